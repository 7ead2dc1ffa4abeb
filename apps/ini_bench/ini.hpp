// A small INI parser written the way ordinary application code would write
// it: every section name, key and value becomes its own std::string stored in
// node-based standard containers.  That is deliberate -- ini_bench exists to
// put the global allocator under a realistic load, so the parser must not
// pool, intern or otherwise avoid allocations.
//
// Accepted syntax (one construct per line, lines end in "\n" or "\r\n"):
//   [section name]        leading/trailing blanks inside the brackets trimmed
//   key = value           blanks around key and value trimmed
//   key = "quoted value"  \" and \\ are escapes; any other backslash is kept
//                         literally; blanks inside the quotes are kept
//   ; comment  /  # comment   on a line of their own
//   key = value ; comment     a ';' or '#' starts a trailing comment when it
//                             begins the value or follows a blank, so
//                             "url = http://h/#frag" keeps its '#'
//   key = "v" ; comment       after a quoted value only blanks or a comment
// Keys that appear before any [section] belong to the section "".
// A repeated key overwrites the earlier value; a repeated section header
// reopens (merges into) the existing section.  Names are case-sensitive.
// Malformed lines are reported and skipped; parsing always continues.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace ini {

using Section = std::map<std::string, std::string>;
using Document = std::map<std::string, Section>;

struct ParseError {
    std::size_t line;  // 1-based
    std::string message;
};

// Parses `text`.  When `errors` is non-null, one entry is appended per
// malformed (and skipped) line.
Document parse(std::string_view text, std::vector<ParseError>* errors = nullptr);

// Renders a document back as INI text (values always quoted).  Used only to
// print readable diffs when the self-test fails.
std::string dump(const Document& doc);

}  // namespace ini
