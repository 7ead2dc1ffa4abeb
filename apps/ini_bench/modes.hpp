// The three workloads ini_bench can run over a corpus.  Each returns the time
// per operation and a checksum that must be the same under every allocator.
//
//   parse    one operation = parse the corpus into a fresh document, check
//            it, destroy it.  Every block dies young, in one thread.
//   mixed    documents stay alive in a fixed number of slots; one operation =
//            parse a new document into a random slot (destroying the one it
//            replaces, so lifetimes vary widely) and then edit random live
//            documents: look keys up, rewrite values with new lengths, erase
//            keys and insert new ones.  Old and young blocks interleave.
//   threads  worker threads parse and hand each document to the main thread,
//            which destroys it: every block is freed by a thread that did not
//            allocate it.  One operation = one document parsed and freed.
#pragma once

#include "corpus.hpp"
#include "measure.hpp"

Result run_parse(const corpus::Corpus& c, const Reference& ref, const Settings& s);
Result run_mixed(const corpus::Corpus& c, const Reference& ref, const Settings& s);
Result run_threads(const corpus::Corpus& c, const Reference& ref, const Settings& s);
