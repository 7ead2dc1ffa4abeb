#include "selftest.hpp"

#include "corpus.hpp"
#include "ini.hpp"

#include <cstdio>
#include <string_view>
#include <vector>

namespace {

struct SelfTestCase {
    const char* name;
    std::string_view text;
    ini::Document expected;
    std::vector<std::size_t> error_lines;
};

}  // namespace

int run_selftest() {
    const std::vector<SelfTestCase> cases = {
        {"comments, sections, trimming, keys before any section",
         "; leading comment\n"
         "# hash comment\n"
         "top = level\n"
         "  indented = yes  \n"
         "\n"
         "[server]\n"
         "host = example.com   ; trailing comment\n"
         "port=8080\n"
         "url = http://h/#frag\n"
         "list = a;b\n"
         "tabbed\t=\tvalue\t# comment\n"
         "   [ spaced name ]   ; comment after header\n"
         "  key with spaces   =   value with spaces   # comment\n",
         {{"", {{"top", "level"}, {"indented", "yes"}}},
          {"server",
           {{"host", "example.com"},
            {"port", "8080"},
            {"url", "http://h/#frag"},
            {"list", "a;b"},
            {"tabbed", "value"}}},
          {"spaced name", {{"key with spaces", "value with spaces"}}}},
         {}},
        {"quoted values, escapes, empty values",
         R"INI([q]
plain = "hello world"
spaces = "  keep  "
escaped = "say \"hi\" to C:\\dir"
comment_chars = "a ; b # c"   ; real comment
other_backslash = "a\nb"
empty_quoted = ""
empty =
empty_comment = ; nothing
hash_value = #nothing either
equals = a=b=c
)INI",
         {{"q",
           {{"plain", "hello world"},
            {"spaces", "  keep  "},
            {"escaped", R"(say "hi" to C:\dir)"},
            {"comment_chars", "a ; b # c"},
            {"other_backslash", R"(a\nb)"},
            {"empty_quoted", ""},
            {"empty", ""},
            {"empty_comment", ""},
            {"hash_value", ""},
            {"equals", "a=b=c"}}}},
         {}},
        {"CRLF, duplicate keys, reopened and empty sections",
         "a = 1\r\n[s]\r\nk = v1\r\nk = v2\r\n[empty]\r\n[t]\r\nx = \"q\"\r\n[s]\r\nm = 3",
         {{"", {{"a", "1"}}}, {"s", {{"k", "v2"}, {"m", "3"}}}, {"empty", {}}, {"t", {{"x", "q"}}}},
         {}},
        {"malformed lines are reported and skipped",
         "[ok]\n"
         "a = 1\n"
         "no equals sign here\n"
         "[broken\n"
         "= no key\n"
         "q = \"unterminated\n"
         "r = \"x\" trailing\n"
         "[bad] junk\n"
         "[]\n"
         "b = 2\n",
         {{"ok", {{"a", "1"}, {"b", "2"}}}},
         {3, 4, 5, 6, 7, 8, 9}},
    };

    int failures = 0;
    for (const auto& tc : cases) {
        std::vector<ini::ParseError> errors;
        const ini::Document doc = ini::parse(tc.text, &errors);
        std::vector<std::size_t> lines;
        for (const auto& e : errors) lines.push_back(e.line);
        if (doc == tc.expected && lines == tc.error_lines) continue;

        ++failures;
        std::fprintf(stderr, "selftest FAILED: %s\n", tc.name);
        if (doc != tc.expected) {
            std::fprintf(stderr, "--- expected document:\n%s--- parsed document:\n%s", ini::dump(tc.expected).c_str(),
                         ini::dump(doc).c_str());
        }
        if (lines != tc.error_lines) {
            std::fprintf(stderr, "--- expected errors on lines:");
            for (const auto l : tc.error_lines) std::fprintf(stderr, " %zu", l);
            std::fprintf(stderr, "\n--- got errors:\n");
            for (const auto& e : errors) std::fprintf(stderr, "  line %zu: %s\n", e.line, e.message.c_str());
        }
    }

    // The generated corpora must parse without a single error.
    for (const corpus::Corpus& c : {corpus::make_small(), corpus::make_large(), corpus::make_huge()}) {
        std::vector<ini::ParseError> errors;
        (void)ini::parse(c.text, &errors);
        if (!errors.empty()) {
            ++failures;
            std::fprintf(stderr, "selftest FAILED: corpus %s has %zu parse errors, first on line %zu: %s\n",
                         c.name.c_str(), errors.size(), errors[0].line, errors[0].message.c_str());
        }
    }

    if (failures != 0) {
        std::fprintf(stderr, "selftest: %d failure(s)\n", failures);
        return 1;
    }
    std::printf("selftest: %zu cases + 3 corpora passed\n", cases.size());
    return 0;
}
