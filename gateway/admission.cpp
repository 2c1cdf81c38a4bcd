#include "gateway/admission.hpp"

namespace tickgate::gateway {

const char* connection_result_name(ConnectionResult r) noexcept {
    switch (r) {
    case ConnectionResult::websocket: return "websocket";
    case ConnectionResult::http: return "http";
    case ConnectionResult::rejected_limit: return "rejected_limit";
    case ConnectionResult::rejected_origin: return "rejected_origin";
    case ConnectionResult::bad_handshake: return "bad_handshake";
    case ConnectionResult::tls_error: return "tls_error";
    case ConnectionResult::timeout: return "timeout";
    case ConnectionResult::count: break;
    }
    return "unknown";
}

}  // namespace tickgate::gateway
