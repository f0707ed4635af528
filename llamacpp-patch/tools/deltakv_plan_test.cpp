// deltakv-plan-test: the DeltaKV planner against the rules and worked examples of the
// DeltaKV spec (3.2, 4.1, 6.1-6.4, 7), and the memory accounting at the paper's settings.
// Prints one line per check; exits 1 if any check fails.
#include "llama-deltakv-planner.h"

#include <cstdio>
#include <string>

static int g_failures = 0;

static void check(bool ok, const std::string & what) {
    printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
    g_failures += ok ? 0 : 1;
}

static std::string s(long long v) { return std::to_string(v); }

int main() {
    llama_deltakv_plan_params paper; // sink 8, recent 128, stride 10, k 4, top-k 2048

    // spec 6.4: a 131,072-token prompt is one block of 130,816 tokens, 248 stay raw, 13,082 centers
    llama_deltakv_seq_plan plan(paper);
    plan.append(131072);
    llama_deltakv_block block;
    check(plan.compress(block), "prefill of 131072 tokens compresses a block");
    check(block.p0 == 8 && block.p1 == 8 + 130816, "block is [8, 130824), got [" + s(block.p0) + ", " + s(block.p1) + ")");
    check(plan.n_raw() == 248, "248 tokens stay raw, got " + s(plan.n_raw()));
    check(plan.n_refs() == 8 + 13082, "8 sink + 13082 centers, got " + s(plan.n_refs()));
    check(plan.refs()[8] == 8 && plan.refs()[9] == 18 && plan.refs().back() == 8 + 130810,
          "centers at 8, 18, ..., 130818 (block-relative stride 10)");
    check(plan.is_center(18) && !plan.is_center(19) && plan.is_center(3), "is_center: centers and sink");
    check(!plan.compress(block), "no second block right after");

    // spec 4.2: a block token sees the older references and this block's centers at or before it
    check(plan.n_visible_refs(block, 0) == 9, "offset 0 sees the sink and itself (9)");
    check(plan.n_visible_refs(block, 9) == 9, "offset 9 sees 9");
    check(plan.n_visible_refs(block, 10) == 10, "offset 10 sees 10");
    check(plan.n_visible_refs(block, 130815) == 13090, "the last block token sees all 13090");
    check(plan.n_neighbors_for(2) == 2 && plan.n_neighbors_for(9) == 4, "k_eff = min(k, visible)");
    check(plan.n_selected() == 2048, "top-k budget 2048 of 130816");

    // spec 6.2 in steady decode: a 128-token block with 13 centers whenever the raw buffer reaches 256
    int events = 0;
    bool shapes_ok = true;
    for (int t = 0; t < 1000; ++t) {
        plan.append(1);
        if (plan.compress(block)) {
            events++;
            const int32_t centers = plan.n_refs() - block.n_refs_before;
            shapes_ok = shapes_ok && block.size() == 128 && centers == 13 && plan.n_raw() == 128 &&
                        plan.refs()[block.n_refs_before + 12] == block.p0 + 120;
        }
        shapes_ok = shapes_ok && plan.n_raw() < 256;
    }
    check(events == 8, "1000 decode steps after the prefill compress 8 blocks, got " + s(events));
    check(shapes_ok, "each block: 128 tokens, 13 centers at offsets 0..120, 128 raw left, raw always < 256");

    // short sequences stay exact
    llama_deltakv_seq_plan short_plan(paper);
    short_plan.append(8 + 255);
    check(!short_plan.compress(block) && short_plan.n_compressed() == 0, "8 + 255 tokens: nothing compressed");
    short_plan.append(1);
    check(short_plan.compress(block) && block.size() == 128 && short_plan.n_raw() == 128, "8 + 256 tokens: one block of 128");

    // sequence edits: a suffix inside the raw buffer, the whole sequence; never inside history
    const int32_t c = plan.n_compressed();
    check(!plan.remove_from(8 + c - 1), "removing from inside the compressed history is refused");
    check(plan.n_compressed() == c, "... and changes nothing");
    const int32_t raw = plan.n_raw();
    check(plan.remove_from(plan.n_tokens() - 5) && plan.n_raw() == raw - 5, "a suffix of the raw buffer");
    check(plan.remove_from(0) && plan.n_tokens() == 0 && plan.n_refs() == 0, "the whole sequence");
    llama_deltakv_seq_plan fresh(paper);
    fresh.append(100);
    check(fresh.remove_from(3) && fresh.n_tokens() == 3 && fresh.n_refs() == 3, "before any compression any suffix");

    // spec 7: memory at 128K with the paper's settings (int4 g32 latents, stride 10, k = 4, F16 cache)
    llama_deltakv_seq_plan at128k(paper);
    at128k.append(131072);
    at128k.compress(block);
    const llama_deltakv_bytes llama8b = llama_deltakv_count_bytes({32, 5, 2048, 2, 512, 4, 32}, at128k);
    const llama_deltakv_bytes qwen7b  = llama_deltakv_count_bytes({28, 6, 1024, 2, 256, 4, 32}, at128k);
    printf("Llama-3.1-8B shape, 128K: %lld of %lld bytes = %.2f%% (full %lld, exact %lld, latents %lld, ids %lld)\n",
           (long long) llama8b.total(), (long long) llama8b.stock, 100 * llama8b.ratio(), (long long) llama8b.full_layers,
           (long long) llama8b.exact_rows, (long long) llama8b.latents, (long long) llama8b.ref_ids);
    printf("Qwen2.5-7B shape, 128K:   %lld of %lld bytes = %.2f%% (full %lld, exact %lld, latents %lld, ids %lld)\n",
           (long long) qwen7b.total(), (long long) qwen7b.stock, 100 * qwen7b.ratio(), (long long) qwen7b.full_layers,
           (long long) qwen7b.exact_rows, (long long) qwen7b.latents, (long long) qwen7b.ref_ids);
    check(llama8b.total() == 5317937152LL, "Llama-3.1-8B shape: 5317937152 bytes, computed by hand");
    check(qwen7b.total() == 2695065600LL, "Qwen2.5-7B shape: 2695065600 bytes, computed by hand");
    check(llama8b.ratio() <= 0.31, "Llama-3.1-8B shape at most 31% of the stock cache");
    check(qwen7b.ratio() <= 0.37, "Qwen2.5-7B shape at most 37% of the stock cache");

    printf("deltakv plan: %d failures\n", g_failures);
    return g_failures == 0 ? 0 : 1;
}
