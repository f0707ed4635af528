// deltakv-split-test: the DeltaKV memory with the model's layers split over several devices (llama.cpp's
// layer split) against the same memory on one device.
//
// usage: deltakv-split-test MODEL TEXT_FILE IDENTITY_SIDEFILE RANDOM_SIDEFILE --rpc HOST:PORT,HOST:PORT
//                           [--tokens N] [--steps N] [--fa on|off]
//
// The devices are those served by ggml-rpc-server processes at the given endpoints (on one machine, CPU
// devices on the loopback address); the single-device runs use this process's CPU. Each layer's DeltaKV
// storage and compressor weights live on that layer's device, and the observation layer's choice of
// tokens reaches layers on the other device. Checks, one line each ("PASS name ..." or "FAIL name ..."),
// the exit code is the number of failures:
//
//   split-layout-layers    the layers are on two devices
//   split-layout-memory    the memory holds bytes on both (the second one: DeltaKV storage only, as the
//                          full layers are on the first)
//   split-stock            stock cache, split against one device: the same logits within the tolerance
//   split-identity-topk    identity compressor, top-k decode (k = everything), split: the stock cache's logits
//                          on one device
//   split-random-topk      random int4 compressor, top-256 decode: split against one device (the full layer on
//                          the first device chooses for the layers on the second)
//   split-random-all       the same with every compressed token rebuilt
//
// The tolerance is that of the memory test: three times the difference between a stock F16 and F32
// cache on one device (the rounding of the cache itself), at least 1e-3.
#include "tool_checks.h"
#include "tool_common.h"

#include "llama-context.h"           // llama_context::get_memory
#include "llama-deltakv-side-file.h" // llama_deltakv_test_params
#include "llama-model.h"             // llama_model::dev_layer

#include "ggml-backend.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <sstream>
#include <string>
#include <vector>

static bool g_flash_attn = false; // --fa on

// the devices of the RPC servers at the comma-separated endpoints (empty when one cannot be reached)
static std::vector<ggml_backend_dev_t> rpc_devices(const std::string & endpoints) {
    std::vector<ggml_backend_dev_t> devs;
    ggml_backend_reg_t rpc = ggml_backend_reg_by_name("RPC");
    if (rpc == nullptr) {
        fprintf(stderr, "this build has no RPC backend\n");
        return devs;
    }
    using add_server_fn = ggml_backend_reg_t (*)(const char *);
    auto add_server = (add_server_fn) ggml_backend_reg_get_proc_address(rpc, "ggml_backend_rpc_add_server");
    std::stringstream list(endpoints);
    for (std::string ep; std::getline(list, ep, ',');) {
        ggml_backend_reg_t reg = add_server(ep.c_str());
        if (reg == nullptr || ggml_backend_reg_dev_count(reg) == 0) {
            fprintf(stderr, "no RPC server answers at %s\n", ep.c_str());
            return {};
        }
        for (size_t i = 0; i < ggml_backend_reg_dev_count(reg); ++i) {
            devs.push_back(ggml_backend_reg_dev_get(reg, i));
        }
    }
    return devs;
}

// the model on this process's CPU (devs empty) or with every layer split over devs
static llama_model * load(const char * path, std::vector<ggml_backend_dev_t> devs) {
    llama_model_params mp = llama_model_default_params();
    if (!devs.empty()) {
        devs.push_back(nullptr);
        mp.devices      = devs.data();
        mp.n_gpu_layers = 999;
        mp.split_mode   = LLAMA_SPLIT_MODE_LAYER;
    }
    return llama_model_load_from_file(path, mp);
}

struct run_config {
    const char * sidefile        = nullptr; // nullptr: stock memory
    bool         reconstruct_all = false;
    int32_t      top_k           = -1;      // -1: the side file's
    ggml_type    type_kv         = GGML_TYPE_F16;
};

struct run_result {
    bool                            ok = false;
    std::vector<std::vector<float>> logits; // the last prompt token's, then each step's
    llama_deltakv_stats             stats{};
    std::vector<llama_token>        steps;  // the tokens decoded after the prompt
    std::set<std::string>           buffers; // the memory's buffer types that hold bytes
};

// the prompt in calls of 512 tokens, then n_steps tokens one step at a time: the forced ones when given (the
// same steps in every run, so that a near tie cannot fork two runs), else greedy
static run_result run(llama_model * model, const run_config & cfg, const std::vector<llama_token> & prompt,
                      int32_t n_steps, const std::vector<llama_token> & forced = {}) {
    run_result r;
    llama_deltakv * dkv = nullptr;
    if (cfg.sidefile != nullptr) {
        llama_deltakv_params dp = llama_deltakv_default_params();
        dp.top_k = cfg.top_k;
        dkv = llama_deltakv_load(model, cfg.sidefile, dp);
        if (dkv == nullptr) {
            return r;
        }
        llama_deltakv_test_params tp;
        tp.reconstruct_all = cfg.reconstruct_all;
        llama_deltakv_set_test_params(dkv, tp);
    }
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx           = 4096;
    cp.n_batch         = 512;
    cp.n_ubatch        = 512;
    cp.n_threads       = 2;
    cp.n_threads_batch = 2;
    cp.flash_attn_type = g_flash_attn ? LLAMA_FLASH_ATTN_TYPE_ENABLED : LLAMA_FLASH_ATTN_TYPE_DISABLED;
    cp.deltakv         = dkv;
    cp.type_k          = cfg.type_kv;
    cp.type_v          = cfg.type_kv;
    llama_context * ctx = llama_init_from_model(model, cp);
    if (ctx != nullptr) {
        const int32_t n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
        int32_t pos = 0;
        r.ok = true;
        for (size_t i = 0; r.ok && i < prompt.size(); i += 512) {
            const int32_t n = (int32_t) std::min(prompt.size() - i, (size_t) 512);
            r.ok = tool_decode(ctx, prompt.data() + i, n, pos);
            pos += n;
        }
        if (r.ok) {
            r.logits.push_back(logits_of(ctx, -1, n_vocab));
        }
        for (int32_t s = 0; r.ok && s < n_steps; ++s) {
            r.steps.push_back(forced.empty() ? argmax(r.logits.back()) : forced[s]);
            r.ok = tool_decode(ctx, &r.steps.back(), 1, pos++);
            if (r.ok) {
                r.logits.push_back(logits_of(ctx, -1, n_vocab));
            }
        }
        if (dkv != nullptr) {
            llama_deltakv_get_stats(ctx, &r.stats);
        }
        for (const auto & [buft, size] : ctx->get_memory()->memory_breakdown()) {
            if (size > 0) {
                r.buffers.insert(ggml_backend_buft_name(buft));
            }
        }
        llama_free(ctx);
    }
    llama_deltakv_free(dkv);
    return r;
}

static std::string describe(const diff_stats & d) {
    return "max_rel=" + fmt("%.2e", d.max_rel) + " top1=" + std::to_string(d.top1) + "/" + std::to_string(d.steps);
}

int main(int argc, char ** argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s MODEL TEXT_FILE IDENTITY_SIDEFILE RANDOM_SIDEFILE --rpc HOST:PORT,HOST:PORT "
                        "[--tokens N] [--steps N] [--fa on|off]\n", argv[0]);
        return 2;
    }
    tool_init();
    const tool_options opt(argc, argv, 5);
    g_flash_attn = opt.str("--fa", "off") == "on";
    const std::vector<ggml_backend_dev_t> devs = rpc_devices(opt.str("--rpc", ""));
    if (devs.size() < 2) {
        fprintf(stderr, "two RPC devices are needed (--rpc HOST:PORT,HOST:PORT)\n");
        return 2;
    }
    llama_model * single = load(argv[1], {});
    llama_model * split  = load(argv[1], devs);
    if (single == nullptr || split == nullptr) {
        fprintf(stderr, "cannot load %s\n", argv[1]);
        return 2;
    }

    // the layout: which device holds each layer
    {
        std::set<ggml_backend_dev_t> used;
        std::ostringstream os;
        for (int32_t il = 0; il < llama_model_n_layer(split); ++il) {
            ggml_backend_dev_t dev = split->dev_layer(il);
            used.insert(dev);
            os << " " << il << ":" << ggml_backend_dev_name(dev);
        }
        report(used.size() == 2, "split-layout-layers", "layers on" + os.str());
    }

    const llama_vocab * vocab = llama_model_get_vocab(single);
    const int32_t n_tokens = (int32_t) opt.num("--tokens", 2000);
    const int32_t n_steps  = (int32_t) opt.num("--steps", 24);
    std::vector<llama_token> prompt = tool_tokenize_file(vocab, argv[2], 6 * (size_t) n_tokens);
    prompt.resize(std::min(prompt.size(), (size_t) n_tokens));

    // the forced steps: the stock cache's greedy answer on one device
    const std::vector<llama_token> forced = run(single, {}, prompt, n_steps).steps;
    if ((int32_t) forced.size() != n_steps) {
        report(false, "split-stock", "the stock run on one device failed");
        return tool_failures();
    }

    // tolerance: the rounding of the cache itself (stock F16 against F32, one device)
    const run_result stock = run(single, {}, prompt, n_steps, forced);
    run_config f32;
    f32.type_kv = GGML_TYPE_F32;
    const run_result f32_run = run(single, f32, prompt, n_steps, forced);
    const double tol = std::max(1e-3, 3.0 * compare(stock.logits, f32_run.logits).max_rel);
    printf("tolerance %.2e\n", tol);

    {
        const diff_stats d = compare(stock.logits, run(split, {}, prompt, n_steps, forced).logits);
        report(d.steps == n_steps + 1 && d.max_rel < tol && d.top1 == d.steps, "split-stock", describe(d));
    }
    {
        run_config cfg;
        cfg.sidefile = argv[3];
        cfg.top_k    = 1 << 20; // every compressed token chosen: the stock cache's logits
        const run_result got = run(split, cfg, prompt, n_steps, forced);
        const diff_stats d = compare(stock.logits, got.logits);
        report(d.steps == n_steps + 1 && d.max_rel < tol && d.top1 >= d.steps - 1 && got.stats.n_compressed > 0,
               "split-identity-topk", describe(d) + " compressed=" + std::to_string(got.stats.n_compressed));

        // the full layers' cache is on the first device only: the second holds DeltaKV storage
        std::ostringstream os;
        int n_rpc = 0;
        for (const auto & name : got.buffers) {
            os << " " << name;
            n_rpc += name.rfind("RPC", 0) == 0 ? 1 : 0;
        }
        report(n_rpc == 2, "split-layout-memory", "memory buffers on:" + os.str());
    }
    for (bool all : {false, true}) {
        run_config cfg;
        cfg.sidefile        = argv[4];
        cfg.reconstruct_all = all;
        cfg.top_k           = 256; // fewer than are compressed: the choice made on the first device matters
        const run_result one = run(single, cfg, prompt, n_steps, forced);
        const run_result two = run(split, cfg, prompt, n_steps, forced);
        const diff_stats d = compare(one.logits, two.logits);
        report(d.steps == n_steps + 1 && d.max_rel < tol && d.top1 >= d.steps - 1 && two.stats.n_compressed > 0 &&
               two.stats.n_compressed == one.stats.n_compressed,
               all ? "split-random-all" : "split-random-topk",
               describe(d) + " compressed=" + std::to_string(two.stats.n_compressed) + "/" +
               std::to_string(one.stats.n_compressed));
    }

    llama_model_free(split);
    llama_model_free(single);
    printf("%d failure(s)\n", tool_failures());
    return tool_failures();
}
