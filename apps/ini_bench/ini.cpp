#include "ini.hpp"

#include <utility>

namespace ini {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t'; }

std::string_view trim_left(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size() && is_blank(s[i])) ++i;
    return s.substr(i);
}

std::string_view trim_right(std::string_view s) {
    std::size_t n = s.size();
    while (n > 0 && is_blank(s[n - 1])) --n;
    return s.substr(0, n);
}

std::string_view trim(std::string_view s) { return trim_right(trim_left(s)); }

bool is_comment_start(char c) { return c == ';' || c == '#'; }

// True when `rest` (already left-trimmed) is empty or only a comment.
bool only_comment_left(std::string_view rest) {
    rest = trim_left(rest);
    return rest.empty() || is_comment_start(rest.front());
}

void report(std::vector<ParseError>* errors, std::size_t line, const char* message) {
    if (errors != nullptr) errors->push_back(ParseError{line, message});
}

// Parses the value part of "key = value" (everything after '=').  Returns
// false and leaves a message in `error` when the value is malformed.
bool parse_value(std::string_view rest, std::string& out, const char*& error) {
    rest = trim_left(rest);
    if (!rest.empty() && rest.front() == '"') {
        // Quoted: copy character by character so the string grows the way
        // hand-written unescaping code typically makes it grow.
        std::size_t i = 1;
        for (; i < rest.size(); ++i) {
            const char c = rest[i];
            if (c == '\\' && i + 1 < rest.size() && (rest[i + 1] == '"' || rest[i + 1] == '\\')) {
                out.push_back(rest[i + 1]);
                ++i;
            } else if (c == '"') {
                break;
            } else {
                out.push_back(c);
            }
        }
        if (i >= rest.size()) {
            error = "unterminated quoted value";
            return false;
        }
        if (!only_comment_left(rest.substr(i + 1))) {
            error = "unexpected text after quoted value";
            return false;
        }
        return true;
    }
    // Unquoted: cut at a comment marker that starts the value or follows a
    // blank, then drop trailing blanks.
    std::size_t cut = rest.size();
    for (std::size_t i = 0; i < rest.size(); ++i) {
        if (is_comment_start(rest[i]) && (i == 0 || is_blank(rest[i - 1]))) {
            cut = i;
            break;
        }
    }
    out.assign(trim_right(rest.substr(0, cut)));
    return true;
}

}  // namespace

Document parse(std::string_view text, std::vector<ParseError>* errors) {
    Document doc;
    // std::map never moves its nodes, so a pointer to the open section stays
    // valid while other sections are inserted.  Null until the first header
    // or the first key (which then opens section "").
    Section* current = nullptr;

    std::size_t pos = 0;
    std::size_t line_no = 0;
    while (pos < text.size()) {
        const std::size_t nl = text.find('\n', pos);
        const std::size_t end = (nl == std::string_view::npos) ? text.size() : nl;
        std::string_view line = text.substr(pos, end - pos);
        pos = end + 1;
        ++line_no;

        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        line = trim(line);
        if (line.empty() || is_comment_start(line.front())) continue;

        if (line.front() == '[') {
            const std::size_t close = line.find(']');
            if (close == std::string_view::npos) {
                report(errors, line_no, "missing ']' in section header");
                continue;
            }
            const std::string_view name = trim(line.substr(1, close - 1));
            if (name.empty()) {
                report(errors, line_no, "empty section name");
                continue;
            }
            if (!only_comment_left(line.substr(close + 1))) {
                report(errors, line_no, "unexpected text after section header");
                continue;
            }
            current = &doc[std::string(name)];
            continue;
        }

        const std::size_t eq = line.find('=');
        if (eq == std::string_view::npos) {
            report(errors, line_no, "expected 'key = value'");
            continue;
        }
        std::string key(trim_right(line.substr(0, eq)));
        if (key.empty()) {
            report(errors, line_no, "empty key");
            continue;
        }
        std::string value;
        const char* error = nullptr;
        if (!parse_value(line.substr(eq + 1), value, error)) {
            report(errors, line_no, error);
            continue;
        }
        if (current == nullptr) current = &doc[std::string()];
        current->insert_or_assign(std::move(key), std::move(value));
    }
    return doc;
}

std::string dump(const Document& doc) {
    std::string out;
    for (const auto& [name, section] : doc) {
        if (name.empty()) {
            out += "; section \"\" (keys before any header)\n";
        } else {
            out += '[';
            out += name;
            out += "]\n";
        }
        for (const auto& [key, value] : section) {
            out += key;
            out += " = \"";
            for (const char c : value) {
                if (c == '"' || c == '\\') out += '\\';
                out += c;
            }
            out += "\"\n";
        }
    }
    return out;
}

}  // namespace ini
