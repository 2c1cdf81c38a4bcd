#!/usr/bin/env python3
"""Fails when a layer points up.

Layers, lowest first: protocol/ (pure code), feeds/runtime/ (what every program runs on), the rest
of feeds/ (adapters, ring, bus, the tickgate-feed publisher), gateway/. A file may include only
headers of its own layer or a lower one, and a program may link only libraries of its own layer or
a lower one (so tickgate-feed never links the server library).

Includes are read from the sources; links from the generated build files (build.ninja, or each
target's link.txt with the Makefile generators), i.e. what the linker really gets, transitive
dependencies included.

    check_layers.py --source DIR --build DIR   check the tree and the build
    check_layers.py --self-test                check that the checks catch what they should
"""

import argparse
import os
import re
import sys
import tempfile

# Lower number = lower layer. A path belongs to the first prefix it starts with.
LAYERS = [("protocol/", 0, "protocol"), ("feeds/runtime/", 1, "feeds/runtime"), ("feeds/", 2, "feeds"),
          ("gateway/", 3, "gateway")]

# Our libraries and the programs checked, by layer. A tickgate_* library missing here fails the
# check, so a new library gets a layer before anything links it.
LIBRARY_LAYERS = {
    "tickgate_protocol": 0,
    "tickgate_asio": 1,
    "tickgate_runtime": 1,
    "tickgate_feeds": 2,
    "tickgate_tls_socket": 3,
    "tickgate_gateway": 3,
}
PROGRAM_LAYERS = {"protocol_tests": 0, "feeds_tests": 2, "tickgate-feed": 2, "tickgate": 3, "gateway_tests": 3}
# Must be found in the build files: otherwise the link check would pass by checking nothing.
REQUIRED_PROGRAMS = ("tickgate-feed", "tickgate")

INCLUDE = re.compile(r'^\s*#\s*include\s*["<]([^">]+)[">]')
SOURCE_SUFFIXES = (".hpp", ".cpp", ".h", ".cc", ".in")


def layer_of(path):
    for prefix, rank, name in LAYERS:
        if path.startswith(prefix):
            return rank, name
    return None


def include_violations(source_root):
    problems = []
    for top in ("protocol", "feeds", "gateway"):
        for dirpath, _, files in os.walk(os.path.join(source_root, top)):
            for f in sorted(files):
                if not f.endswith(SOURCE_SUFFIXES):
                    continue
                full = os.path.join(dirpath, f)
                rel = os.path.relpath(full, source_root).replace(os.sep, "/")
                own = layer_of(rel)
                with open(full, encoding="utf-8", errors="replace") as text:
                    for number, line in enumerate(text, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        target = layer_of(m.group(1))
                        if target and own and target[0] > own[0]:
                            problems.append(f"{rel}:{number}: {own[1]} includes {m.group(1)} ({target[1]}, a layer up)")
    return problems


def program_links(build_dir):
    """{program: [library names it links]} from build.ninja or the Makefile generators' link.txt."""
    links = {}
    lib = re.compile(r"lib(tickgate[\w-]*)\.(?:a|so)\b")
    ninja = os.path.join(build_dir, "build.ninja")
    if os.path.exists(ninja):
        current = None
        with open(ninja, encoding="utf-8", errors="replace") as text:
            for line in text:
                m = re.match(r"build (\S+): CXX_EXECUTABLE_LINKER__", line)
                if m:
                    current = os.path.basename(m.group(1))
                    links[current] = []
                elif current and line.startswith("  LINK_LIBRARIES ="):
                    links[current] = lib.findall(line)
                elif not line.startswith("  "):
                    current = None
    for dirpath, _, files in os.walk(build_dir):
        if "link.txt" in files and dirpath.endswith(".dir"):
            program = os.path.basename(dirpath)[: -len(".dir")]
            with open(os.path.join(dirpath, "link.txt"), encoding="utf-8", errors="replace") as text:
                links.setdefault(program, lib.findall(text.read()))
    return links


def link_violations(build_dir):
    links = program_links(build_dir)
    problems = [f"{p}: not found in the build files under {build_dir}" for p in REQUIRED_PROGRAMS if p not in links]
    for program, libraries in sorted(links.items()):
        if program not in PROGRAM_LAYERS:
            continue
        for library in libraries:
            rank = LIBRARY_LAYERS.get(library)
            if rank is None:
                problems.append(f"{program} links {library}, which has no layer in tests/layers/check_layers.py")
            elif rank > PROGRAM_LAYERS[program]:
                problems.append(f"{program} links {library}, a layer up")
    return problems


def self_test():
    """The checks must fail on each kind of upward dependency, and pass on a clean tree."""
    failures = []
    with tempfile.TemporaryDirectory() as root:
        def write(rel, text):
            path = os.path.join(root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)

        write("protocol/a.hpp", '#include "protocol/model/b.hpp"\n')
        write("feeds/runtime/log.hpp", '#include "protocol/a.hpp"\n')
        write("feeds/x.cpp", '#include "feeds/runtime/log.hpp"\n#include "protocol/a.hpp"\n')
        write("gateway/y.cpp", '#include "feeds/x.hpp"\n// #include is fine in a comment: "gateway/z.hpp"\n')
        write("build/build.ninja",
              "build tickgate-feed: CXX_EXECUTABLE_LINKER__tickgate-feed_Release a.o | libtickgate_feeds.a\n"
              "  LINK_LIBRARIES = libtickgate_feeds.a  libtickgate_runtime.a  libtickgate_protocol.a\n"
              "build tickgate: CXX_EXECUTABLE_LINKER__tickgate_Release b.o\n"
              "  LINK_LIBRARIES = libtickgate_gateway.a  libtickgate_feeds.a\n")
        if include_violations(root) or link_violations(os.path.join(root, "build")):
            failures.append("a clean tree was reported: " + "; ".join(include_violations(root)))

        for rel, text in (("protocol/c.hpp", '#include "feeds/update_channel.hpp"\n'),
                          ("protocol/d.cpp", '#include <gateway/log.hpp>\n'),
                          ("feeds/e.cpp", '#include "gateway/config.hpp"\n'),
                          ("feeds/publisher/f.cpp", '  #  include "gateway/metrics_server.hpp"\n'),
                          ("feeds/runtime/g.hpp", '#include "feeds/feed_adapter.hpp"\n')):
            write(rel, text)
            if not include_violations(root):
                failures.append(f"an upward include in {rel} passed")
            os.remove(os.path.join(root, rel))

        write("build/build.ninja",
              "build tickgate-feed: CXX_EXECUTABLE_LINKER__tickgate-feed_Release a.o\n"
              "  LINK_LIBRARIES = libtickgate_gateway.a  libtickgate_feeds.a\n"
              "build tickgate: CXX_EXECUTABLE_LINKER__tickgate_Release b.o\n"
              "  LINK_LIBRARIES = libtickgate_gateway.a\n")
        if not any("tickgate-feed links tickgate_gateway" in p for p in link_violations(os.path.join(root, "build"))):
            failures.append("tickgate-feed linking tickgate_gateway passed")
        write("build/build.ninja", "build tickgate: CXX_EXECUTABLE_LINKER__tickgate_Release b.o\n")
        if not link_violations(os.path.join(root, "build")):
            failures.append("build files without tickgate-feed passed")
    for f in failures:
        print("self-test: " + f)
    return 1 if failures else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source")
    parser.add_argument("--build")
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    if args.self_test:
        return self_test()
    if not args.source or not args.build:
        parser.error("--source and --build are needed")
    problems = include_violations(args.source) + link_violations(args.build)
    for p in problems:
        print(p)
    if not problems:
        print("layers point down: protocol <- feeds/runtime <- feeds <- gateway")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
