#pragma once
// A file of lines under the test temp dir, removed when the test is done: replay recordings for
// the feed tests.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace tickgate::feeds::testing {

class TempFile {
public:
    explicit TempFile(const std::vector<std::string>& lines) {
        static int counter = 0;
        path_ = ::testing::TempDir() + "feeds_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + ".jsonl";
        std::ofstream f(path_);
        for (const auto& l : lines) f << l << '\n';
    }
    ~TempFile() { std::remove(path_.c_str()); }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

}  // namespace tickgate::feeds::testing
