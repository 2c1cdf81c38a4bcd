// Protocol v1 (protocol/README.md): JSON requests in text frames, JSON objects back.
#include <variant>

#include "gateway/fanout/frame_encoder.hpp"
#include "gateway/fanout/worker.hpp"
#include "gateway/session/dialect.hpp"
#include "gateway/session/replies.hpp"
#include "gateway/session/request_handler.hpp"
#include "gateway/session/session.hpp"
#include "protocol/messages.hpp"
#include "protocol/request.hpp"

namespace tickgate::gateway {
namespace {

class V1Dialect final : public Dialect {
public:
    explicit V1Dialect(Session& session) : session_(session) {}

    void on_open(std::string_view subscribe_list) override {
        std::string json;
        protocol::encode_welcome(session_.id(), TICKGATE_VERSION, session_.config().heartbeat_ms,
                                 session_.config().publish_channels, json);
        session_.queue_built([&](std::string& out) { frames::message(Wire::v1, "welcome", json, out); });
        session_.queue_stale_statuses();
        if (subscribe_list.empty()) return;
        const protocol::Request request{protocol::Op::subscribe, "", split_subscribe_list(subscribe_list), {}};
        auto replies = Replies::objects(session_, "");
        handle_request(session_, request, replies);
    }

    void on_text(std::string_view text) override {
        if (!session_.admit_client_message()) return;
        auto parsed = protocol::parse_request(text);
        if (auto* error = std::get_if<protocol::RequestError>(&parsed)) {
            Replies::objects(session_, error->id_json).error(error->code, error->message);
            return;
        }
        const auto& request = std::get<protocol::Request>(parsed);
        auto replies = Replies::objects(session_, request.id_json);
        handle_request(session_, request, replies);
    }

    void on_binary() override {
        if (!session_.admit_client_message()) return;
        Replies::objects(session_, "").error(protocol::ErrorCode::bad_request,
                                             "binary frames are not supported; send JSON text frames");
    }

    int silent_heartbeats() const noexcept override { return 3; }

private:
    Session& session_;
};

}  // namespace

std::unique_ptr<Dialect> make_v1_dialect(Session& session) { return std::make_unique<V1Dialect>(session); }

}  // namespace tickgate::gateway
