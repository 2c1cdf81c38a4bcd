// The one translation unit that compiles Asio, Asio's SSL support and Beast (separate compilation),
// so every other source of either program includes only declarations and rebuilds quickly. It sits
// in the runtime because tickgate-feed needs Asio and Beast too (its /metrics) and must not reach
// into gateway/ to get them.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
