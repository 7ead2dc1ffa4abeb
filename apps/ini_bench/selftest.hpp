// The parser's self-test: hand-written snippets with exactly known results,
// and every generated corpus must parse without an error.  Returns the exit
// status (0 = passed).
#pragma once

int run_selftest();
