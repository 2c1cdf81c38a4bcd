#pragma once
// How the answers to one client request are written. A request is answered the same way whatever
// the dialect (request_handler.cpp decides what to say); this decides the form:
// - objects: v1 objects, as v1 frames, or for Socket.IO as events named after their type (or all
//   named "message" for a request that came through socket.send());
// - ack: a Socket.IO request that asked for an ack gets one ack, errors included (the first one).

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/errors.hpp"
#include "protocol/socketio_events.hpp"

namespace tickgate::gateway {

class Session;

class Replies {
public:
    static Replies objects(Session& session, std::string_view id_json) { return Replies(session, id_json, false); }
    static Replies socketio_messages(Session& session, std::string_view id_json) {
        return Replies(session, id_json, true);
    }
    static Replies socketio_ack(Session& session, std::uint64_t ack_id) { return Replies(session, ack_id); }

    /// The form of these replies, kept for an answer that comes later (a publish is answered once
    /// the engine has sequenced it, on another turn of the loop).
    struct Form {
        std::string id_json;
        bool as_messages = false;
        std::optional<std::uint64_t> ack_id;
    };
    Form form() const { return Form{std::string(id_json_), as_messages_, ack_id_}; }
    /// Replies of `form` to `session`; `form` must outlive them.
    static Replies resume(Session& session, const Form& form) {
        Replies r(session, form.id_json, form.as_messages);
        r.ack_id_ = form.ack_id;
        return r;
    }

    /// Counted and logged whatever the form; in an ack, only the first is reported.
    void error(protocol::ErrorCode code, std::string_view message, std::span<const std::string> topics = {});
    /// subscribe/unsubscribe: `type` is "subscribed" or "unsubscribed", `topics` what was added or
    /// removed. An object is sent only when `accepted`; an ack always.
    void topics_changed(std::string_view type, std::span<const std::string> topics, bool accepted);
    /// subscribe: as topics_changed("subscribed", ..), with the epochs and recovered of a resume.
    void subscribed(std::span<const std::string> topics, bool accepted, const protocol::SubscribeAckExtras& extras);
    void topic_list(std::span<const std::string_view> names);
    void pong(std::int64_t ts_ns);
    /// auth/refresh accepted.
    void authenticated(std::string_view sub, std::int64_t expires_at_ns);
    /// publish sequenced: the message has `seq` in its room.
    void published(std::string_view topic, std::uint64_t seq);
    /// A request that could not be read: an ack still answers it (with its error); objects do not.
    void rejected();

private:
    Replies(Session& session, std::string_view id_json, bool as_messages)
        : session_(session), id_json_(id_json), as_messages_(as_messages) {}
    Replies(Session& session, std::uint64_t ack_id) : session_(session), ack_id_(ack_id) {}

    void send_object(std::string_view type, std::string_view json);
    void send_ack(std::string_view body);

    Session& session_;
    std::string_view id_json_;
    bool as_messages_ = false;
    std::optional<std::uint64_t> ack_id_;  // unset once the ack is sent
    std::optional<protocol::socketio::AckError> first_error_;
};

}  // namespace tickgate::gateway
