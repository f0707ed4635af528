#pragma once

// What the native test tools share to check logits: one "PASS name ..." / "FAIL name ..." line per check (the
// failures counted for the exit code), and two runs' logits compared step by step. Public llama.h API only.

#include "llama.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

// failures reported so far: the tool's exit code
inline int & tool_failures() {
    static int n = 0;
    return n;
}

inline void report(bool ok, const std::string & name, const std::string & detail) {
    printf("%s %s %s\n", ok ? "PASS" : "FAIL", name.c_str(), detail.c_str());
    fflush(stdout);
    tool_failures() += ok ? 0 : 1;
}

inline std::string fmt(const char * f, double x) {
    char buf[64];
    snprintf(buf, sizeof(buf), f, x);
    return buf;
}

// the logits of output i (-1: the last) of the last decode
inline std::vector<float> logits_of(llama_context * ctx, int32_t i, int32_t n_vocab) {
    const float * l = llama_get_logits_ith(ctx, i);
    return std::vector<float>(l, l + n_vocab);
}

inline llama_token argmax(const std::vector<float> & l) {
    return (llama_token) (std::max_element(l.begin(), l.end()) - l.begin());
}

struct diff_stats {
    double max_rel = 0; // max |a - b| / max |a| over the vocabulary, worst step
    int    top1    = 0; // steps with the same argmax
    int    steps   = 0; // -1 when the runs have different step counts
};

inline diff_stats compare(const std::vector<std::vector<float>> & a, const std::vector<std::vector<float>> & b) {
    diff_stats d;
    for (size_t s = 0; s < std::min(a.size(), b.size()); ++s) {
        double mx = 0, scale = 0;
        for (size_t i = 0; i < a[s].size(); ++i) {
            mx    = std::max(mx, (double) std::fabs(a[s][i] - b[s][i]));
            scale = std::max(scale, (double) std::fabs(a[s][i]));
        }
        d.max_rel = std::max(d.max_rel, mx / std::max(scale, 1e-9));
        d.top1   += argmax(a[s]) == argmax(b[s]) ? 1 : 0;
        d.steps++;
    }
    if (a.size() != b.size()) {
        d.steps = -1;
    }
    return d;
}
