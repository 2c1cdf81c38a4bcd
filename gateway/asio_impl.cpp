// The one translation unit that compiles Asio, Asio's SSL support and Beast (separate compilation),
// so the other gateway sources include only declarations and rebuild quickly.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
