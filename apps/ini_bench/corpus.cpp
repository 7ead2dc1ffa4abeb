#include "corpus.hpp"

#include "rng.hpp"

#include <cstddef>
#include <initializer_list>
#include <string_view>
#include <utility>

namespace corpus {
namespace {

// A hand-aligned table.
// clang-format off
constexpr std::string_view kWords[] = {
    "alpha",   "bravo",    "cache",   "delta",    "edge",     "fabric",  "gateway", "harbor",
    "index",   "journal",  "kernel",  "ledger",   "mirror",   "node",    "orbit",   "pool",
    "quota",   "relay",    "shard",   "token",    "uplink",   "vector",  "worker",  "xray",
    "yield",   "zone",     "account", "billing",  "catalog",  "deploy",  "event",   "feed",
    "graph",   "health",   "ingest",  "job",      "keystore", "limit",   "metrics", "notify",
    "order",   "payment",  "query",   "report",   "search",   "tenant",  "upload",  "video",
    "webhook", "export",   "profile", "session",  "storage",  "timeout", "retry",   "backoff",
    "primary", "replica",  "region",  "cluster",  "auth",     "proxy",   "stream",  "batch",
};
// clang-format on

constexpr std::string_view kLevels[] = {"debug", "info", "warn", "error"};
constexpr std::string_view kBools[] = {"true", "false", "yes", "no", "on", "off"};
constexpr std::string_view kTlds[] = {"example.net", "internal", "corp.example.com", "svc.local"};
constexpr std::string_view kUnits[] = {"ms", "s", "m", "h"};
constexpr std::string_view kSizes[] = {"KB", "MB", "GB"};

// Concatenates pieces.  Used instead of chained operator+ whenever more than
// one piece draws from the RNG: the operands of '+' are unsequenced, so the
// draw order (and thus the corpus) could differ between compilers, whereas
// the elements of a braced list are evaluated strictly left to right.
std::string cat(std::initializer_list<std::string_view> pieces) {
    std::string s;
    for (const std::string_view p : pieces) s += p;
    return s;
}

// Small helpers that render realistic-looking values.  Each returns a fresh
// string and takes the RNG explicitly so the call order defines the stream.
std::string num(Rng& r, std::uint32_t lo, std::uint32_t hi) { return std::to_string(r.between(lo, hi)); }

std::string hostname(Rng& r) {
    std::string s(r.pick(kWords));
    s += '-';
    s += std::to_string(r.below(40));
    s += '.';
    s += r.pick(kTlds);
    return s;
}

std::string ip(Rng& r) {
    return cat({"10.", std::to_string(r.below(256)), ".", std::to_string(r.below(256)), ".",
                std::to_string(r.between(1, 254))});
}

std::string path(Rng& r, std::string_view root) {
    std::string s(root);
    const std::uint32_t depth = r.between(1, 4);
    for (std::uint32_t i = 0; i < depth; ++i) {
        s += '/';
        s += r.pick(kWords);
    }
    if (r.percent(40)) s += r.percent(50) ? ".conf" : ".log";
    return s;
}

std::string duration(Rng& r) { return cat({num(r, 1, 900), r.pick(kUnits)}); }
std::string size(Rng& r) { return cat({num(r, 1, 4096), r.pick(kSizes)}); }

std::string url(Rng& r) {
    std::string s = r.percent(80) ? "https://" : "http://";
    s += hostname(r);
    s += ':';
    s += num(r, 1024, 65535);
    s += path(r, "");
    // A '#' not preceded by a blank is part of the value, not a comment.
    if (r.percent(25)) {
        s += '#';
        s += r.pick(kWords);
    }
    return s;
}

std::string list(Rng& r, std::uint32_t lo, std::uint32_t hi) {
    std::string s;
    const std::uint32_t n = r.between(lo, hi);
    for (std::uint32_t i = 0; i < n; ++i) {
        if (i != 0) s += r.percent(50) ? ", " : ",";
        s += r.pick(kWords);
    }
    return s;
}

// Free text meant to be quoted: may contain quotes, backslashes, ';' and '#',
// which the writer escapes and the parser must keep.
std::string sentence(Rng& r, std::uint32_t lo, std::uint32_t hi) {
    std::string s;
    const std::uint32_t n = r.between(lo, hi);
    for (std::uint32_t i = 0; i < n; ++i) {
        if (i != 0) s += ' ';
        switch (r.below(20)) {
            case 0: s += cat({"\"", r.pick(kWords), "\""}); break;
            case 1: s += cat({"C:\\", r.pick(kWords)}); break;
            case 2: s += cat({r.pick(kWords), ";"}); break;
            case 3: s += cat({"#", num(r, 1, 99)}); break;
            default: s += r.pick(kWords); break;
        }
    }
    return s;
}

std::string blob(Rng& r, std::uint32_t len) {
    static constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string s;
    for (std::uint32_t i = 0; i < len; ++i) s += kB64[r.below(64)];
    return s;
}

// Appends INI syntax with the small formatting variations real files have
// (spacing around '=', both comment characters, trailing comments).
class Writer {
public:
    Writer(std::string& out, Rng& r) : out_(out), r_(r) {}

    void blank() { out_ += '\n'; }

    void comment(std::string_view text) {
        out_ += r_.percent(70) ? "; " : "# ";
        out_ += text;
        out_ += '\n';
    }

    void section(std::string_view name) {
        out_ += '[';
        out_ += name;
        out_ += "]\n";
    }

    // Unquoted value (must not contain " ;" / " #" or edge blanks).
    void kv(std::string_view key, std::string_view value) {
        key_eq(key);
        out_ += value;
        maybe_trailing_comment();
        out_ += '\n';
    }

    // Quoted value, escaping '"' and '\\'.
    void quoted(std::string_view key, std::string_view value) {
        key_eq(key);
        out_ += '"';
        for (const char c : value) {
            if (c == '"' || c == '\\') out_ += '\\';
            out_ += c;
        }
        out_ += '"';
        maybe_trailing_comment();
        out_ += '\n';
    }

private:
    void key_eq(std::string_view key) {
        if (r_.percent(8)) out_ += "  ";  // indented key
        out_ += key;
        switch (r_.below(10)) {
            case 0: out_ += '='; break;
            case 1: out_ += "   =  "; break;
            case 2: out_ += "\t= "; break;
            default: out_ += " = "; break;
        }
    }

    void maybe_trailing_comment() {
        if (!r_.percent(6)) return;
        out_ += r_.percent(50) ? "  ; " : " # ";
        out_ += r_.pick(kWords);
        out_ += ' ';
        out_ += r_.pick(kWords);
    }

    std::string& out_;
    Rng& r_;
};

}  // namespace

Corpus make_small() {
    Corpus c;
    c.name = "small";
    Rng r(0x5eed'0001'c0ff'ee00ULL);
    Writer w(c.text, r);

    w.comment("orders-api service configuration");
    w.comment("generated by ini_bench; keys before the first section go into section \"\"");
    w.kv("app_name", "orders-api");
    w.kv("environment", "production");
    w.blank();

    w.section("server");
    w.kv("host", "0.0.0.0");
    w.kv("port", num(r, 8000, 8999));
    w.kv("workers", num(r, 2, 64));
    w.kv("read_timeout", duration(r));
    w.kv("write_timeout", duration(r));
    w.kv("max_body_size", size(r));
    w.kv("keepalive", r.pick(kBools));
    w.kv("trusted_proxies", cat({ip(r), ",", ip(r), ",", ip(r)}));
    w.quoted("banner", "Welcome to \"orders\" ; internal use only");
    w.blank();

    w.section("tls");
    w.kv("enabled", "true");
    w.kv("certificate", path(r, "/etc/ssl/certs"));
    w.kv("private_key", path(r, "/etc/ssl/private"));
    w.kv("ciphers", "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256");
    w.kv("min_version", "1.2");
    w.blank();

    w.comment("primary database; credentials come from the vault at runtime");
    w.section("database");
    w.kv("driver", "postgres");
    w.kv("host", hostname(r));
    w.kv("port", "5432");
    w.kv("name", "orders");
    w.kv("user", "orders_rw");
    w.quoted("password", "s3cr3t\\with\"quotes\"");
    w.kv("pool_min", num(r, 1, 4));
    w.kv("pool_max", num(r, 16, 128));
    w.kv("connect_timeout", duration(r));
    w.quoted("options", "sslmode=verify-full application_name=orders-api");
    w.kv("statement_timeout", duration(r));
    w.kv("migrations_dir", path(r, "/srv/orders/migrations"));
    w.blank();

    w.section("database.replica");
    w.kv("hosts", cat({hostname(r), ",", hostname(r), ",", hostname(r)}));
    w.kv("port", "5432");
    w.kv("lag_tolerance", duration(r));
    w.kv("read_only", "true");
    w.blank();

    w.section("logging");
    w.kv("level", r.pick(kLevels));
    w.kv("format", "json");
    w.kv("file", path(r, "/var/log"));
    w.kv("max_size", size(r));
    w.kv("max_files", num(r, 3, 30));
    w.quoted("pattern", "%d{ISO8601} [%t] %-5level %logger{36} - %msg%n");
    w.kv("sample_rate", cat({"0.", num(r, 1, 99)}));
    w.kv("redact_fields", list(r, 3, 6));
    w.blank();

    w.section("cache");
    w.kv("backend", "redis");
    w.kv("url", cat({"redis://", hostname(r), ":6379/", num(r, 0, 15)}));
    w.kv("ttl", duration(r));
    w.kv("max_entries", num(r, 1000, 500000));
    w.kv("eviction", "lru");
    w.kv("namespace", cat({"orders:v", num(r, 1, 9)}));
    w.blank();

    w.comment("authentication and session handling");
    w.section("auth");
    w.kv("issuer", url(r));
    w.kv("audience", "orders-api");
    w.kv("jwks_url", url(r));
    w.kv("token_ttl", duration(r));
    w.kv("refresh_ttl", duration(r));
    w.kv("allowed_roles", list(r, 3, 6));
    w.quoted("realm", "Orders \"prod\" realm");
    w.blank();

    w.section("metrics");
    w.kv("enabled", r.pick(kBools));
    w.kv("listen", cat({ip(r), ":", num(r, 9000, 9999)}));
    w.kv("path", "/metrics");
    w.kv("histogram_buckets", "0.005,0.01,0.025,0.05,0.1,0.25,0.5,1,2.5,5,10");
    w.kv("prefix", "orders_api");
    w.quoted("static_labels", "team=checkout, tier=\"gold\"");
    w.blank();

    w.section("queue");
    w.kv("broker", cat({"amqp://", hostname(r), ":5672"}));
    w.kv("exchange", "orders.events");
    w.kv("routing_keys", list(r, 2, 5));
    w.kv("prefetch", num(r, 10, 500));
    w.kv("retry_backoff", duration(r));
    w.kv("dead_letter", "orders.dlq");
    w.blank();

    w.section("storage");
    w.kv("provider", "s3");
    w.kv("bucket", cat({"orders-archive-", num(r, 100, 999)}));
    w.kv("region", "eu-west-1");
    w.kv("endpoint", url(r));
    w.kv("multipart_threshold", size(r));
    w.blank();

    w.section("http_client");
    w.kv("timeout", duration(r));
    w.kv("retries", num(r, 0, 5));
    w.quoted("user_agent", "orders-api/2.14 (+https://example.net/bot)");
    w.kv("proxy", "");
    w.blank();

    w.section("cors");
    w.kv("allowed_origins", "https://shop.example.net, https://admin.example.net");
    w.kv("allowed_methods", "GET,POST,PUT,DELETE,OPTIONS");
    w.kv("allowed_headers", "Authorization,Content-Type,X-Request-Id");
    w.kv("max_age", duration(r));
    w.kv("allow_credentials", r.pick(kBools));
    w.blank();

    w.comment("outgoing mail for order confirmations");
    w.section("email");
    w.kv("smtp_host", hostname(r));
    w.kv("smtp_port", "587");
    w.quoted("from", "Orders <no-reply@example.net>");
    w.quoted("subject_prefix", "[orders] ");
    w.kv("template_dir", path(r, "/srv/templates"));
    w.kv("rate_limit", num(r, 10, 1000));
    w.blank();

    w.section("scheduler");
    w.kv("timezone", "UTC");
    w.quoted("cleanup_cron", "0 3 * * *");
    w.quoted("report_cron", "30 6 * * 1");
    w.kv("lock_ttl", duration(r));
    w.kv("max_concurrent_jobs", num(r, 1, 16));
    w.kv("jobs", list(r, 4, 8));
    w.blank();

    w.comment("feature flags: flip without redeploying");
    w.section("features");
    w.kv("new_checkout", r.pick(kBools));
    w.kv("bulk_export", r.pick(kBools));
    w.kv("beta_users", list(r, 2, 4));
    w.kv("rollout_percent", num(r, 0, 100));
    w.quoted("kill_switch_message", "Checkout is temporarily unavailable; please retry in a few minutes.");
    w.blank();

    w.section("limits");
    w.kv("requests_per_minute", num(r, 60, 6000));
    w.kv("burst", num(r, 10, 200));
    w.kv("max_items_per_order", num(r, 10, 500));
    w.kv("max_page_size", num(r, 50, 1000));

    // Hand-aligned.
    // clang-format off
    c.probes = {
        {"server", "port"},       {"database", "host"},   {"logging", "level"},
        {"cache", "ttl"},         {"", "app_name"},       {"auth", "realm"},
        {"scheduler", "cleanup_cron"}, {"features", "no_such"},  {"no_such_section", "port"},
    };
    // clang-format on
    return c;
}

namespace {

// The large and huge corpora: sections of generated keys until the text
// reaches `target` bytes.  Probes sample one section in 97.
Corpus make_generated(std::string name, std::uint64_t seed, std::size_t target) {
    Corpus c;
    c.name = std::move(name);
    Rng r(seed);
    Writer w(c.text, r);
    const std::size_t kTarget = target;
    c.text.reserve(kTarget + 4096);

    w.comment("large generated corpus: many sections, varied key/value lengths");
    std::uint32_t index = 0;
    while (c.text.size() < kTarget) {
        ++index;
        // Section name: mostly unique, occasionally reopening an earlier one
        // (the parser merges into the existing section).
        std::string name(r.pick(kWords));
        name += '.';
        name += r.pick(kWords);
        name += '-';
        name += std::to_string(index > 10 && r.percent(1) ? r.between(1, index - 1) : index);

        if (r.percent(20)) w.comment(cat({"section ", std::to_string(index), ": ", sentence(r, 3, 10)}));
        w.section(name);

        // Most sections are short; a few are long tables.
        const std::uint32_t keys = r.percent(90) ? r.between(3, 12) : r.between(30, 80);
        for (std::uint32_t k = 0; k < keys; ++k) {
            // Short keys fit libstdc++'s small-string buffer; long ones do not.
            std::string key(r.pick(kWords));
            key += '_';
            key += r.pick(kWords);
            if (r.percent(30)) key += cat({".", r.pick(kWords), "_", num(r, 0, 999)});
            if (k == 0 && index % 97 == 0) {
                c.probes.push_back({name, key});
                c.probes.push_back({name, cat({key, "_missing"})});
            }

            if (r.percent(4)) w.comment(sentence(r, 2, 12));
            const std::uint32_t kind = r.below(100);
            // One line per kind of value.
            // clang-format off
            if (kind < 20)       w.kv(key, num(r, 0, kind < 10 ? 100 : 4000000000u));
            else if (kind < 28)  w.kv(key, r.pick(kBools));
            else if (kind < 40)  w.kv(key, r.pick(kWords));
            else if (kind < 50)  w.kv(key, cat({hostname(r), ":", num(r, 1024, 65535)}));
            else if (kind < 62)  w.kv(key, path(r, r.percent(50) ? "/var/lib" : "/opt"));
            else if (kind < 70)  w.kv(key, r.percent(50) ? duration(r) : size(r));
            else if (kind < 85)  w.quoted(key, sentence(r, 1, 24));
            else if (kind < 95)  w.kv(key, list(r, 2, 40));
            else if (kind < 99)  w.kv(key, url(r));
            else                 w.kv(key, blob(r, r.between(200, 2000)));
            // clang-format on
        }
        if (r.percent(85)) w.blank();
    }
    c.probes.push_back({"no_such_section", "key"});
    return c;
}

}  // namespace

Corpus make_large() { return make_generated("large", 0x5eed'0002'1a27'e000ULL, std::size_t{4} << 20); }

Corpus make_huge() { return make_generated("huge", 0x5eed'0003'0b16'0000ULL, std::size_t{32} << 20); }

std::optional<Corpus> make(std::string_view name) {
    if (name == "small") return make_small();
    if (name == "large") return make_large();
    if (name == "huge") return make_huge();
    return std::nullopt;
}

}  // namespace corpus
