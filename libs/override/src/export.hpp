// How the override exports a symbol: C linkage, default visibility (every
// library is built with -fvisibility=hidden).
#pragma once

#define TA_EXPORT extern "C" __attribute__((visibility("default")))
