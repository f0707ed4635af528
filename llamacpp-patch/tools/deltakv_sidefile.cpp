// deltakv-sidefile: make, check and self-test DeltaKV compressor side files.
//
//   deltakv-sidefile write MODEL OUT [options]   a side file for MODEL (identity or random weights)
//     --kind identity|random   identity: linear encoder and decoder W = I, latent = kv_dim (default)
//     --encoder linear|swiglu  (random only; default linear)
//     --latent-dim D --ff F    latent width, SwiGLU hidden width
//     --full-layers 0,2        uncompressed layers (default 0)
//     --bits 16|8|4 --seed S --sink N --recent N --neighbors N --stride N --top-k N
//     --weight-type f32|f16|bf16  the compressor's weights (default f32; the paper's engine runs them in bf16)
//     --model-name NAME --model-layout DIGEST  the model it records being made for (default: MODEL's)
//     --arch A --n-layer N --n-head-kv N --head-dim N --type T --drop TENSOR   (deliberately wrong files, for tests)
//   deltakv-sidefile check MODEL FILE          load FILE for MODEL through llama_deltakv_load; print its settings
//   deltakv-sidefile int4-selftest             the int4 quantiser against hand-computed answers
//
// Side file format: docs/side-file.md.
#include "llama-deltakv-compressor.h"
#include "llama-deltakv-side-file.h"
#include "llama-model.h"

#include "ggml.h"
#include "gguf.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

static std::vector<int32_t> parse_list(const std::string & s) {
    std::vector<int32_t> out;
    size_t start = 0;
    while (start <= s.size()) {
        const size_t end = s.find(',', start);
        const std::string item = s.substr(start, end == std::string::npos ? std::string::npos : end - start);
        if (!item.empty()) {
            out.push_back(std::stoi(item));
        }
        if (end == std::string::npos) {
            break;
        }
        start = end + 1;
    }
    return out;
}

static llama_model * load_model(const char * path) {
    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    llama_model * model = llama_model_load_from_file(path, mp);
    if (model == nullptr) {
        fprintf(stderr, "cannot load model %s\n", path);
    }
    return model;
}

static int cmd_write(int argc, char ** argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: deltakv-sidefile write MODEL OUT [options]\n");
        return 2;
    }
    std::map<std::string, std::string> opt;
    for (int i = 4; i + 1 < argc; i += 2) {
        opt[argv[i]] = argv[i + 1];
    }
    auto get = [&](const char * key, const std::string & def) { return opt.count(key) ? opt[key] : def; };

    llama_model * model = load_model(argv[2]);
    if (model == nullptr) {
        return 1;
    }
    const auto & hp = model->hparams;
    const uint32_t n_layer   = std::stoul(get("--n-layer", std::to_string(llama_model_n_layer(model))));
    const uint32_t n_head_kv = std::stoul(get("--n-head-kv", std::to_string(hp.n_head_kv(0))));
    const uint32_t head_dim  = std::stoul(get("--head-dim", std::to_string(hp.n_embd_head_k(0))));
    const uint32_t kv_dim    = 2 * n_head_kv * head_dim;
    const std::string kind    = get("--kind", "identity");
    const std::string encoder = get("--encoder", "linear");
    const uint32_t d  = std::stoul(get("--latent-dim", std::to_string(kind == "identity" ? kv_dim : kv_dim / 4)));
    const uint32_t ff = std::stoul(get("--ff", std::to_string(2 * d)));
    const std::vector<int32_t> full = parse_list(get("--full-layers", "0"));
    const std::string drop = get("--drop", "");
    const std::string nan  = get("--nan", ""); // a tensor whose first weight is NaN (tests of the loader's checks)
    if (kind == "identity" && (encoder != "linear" || d != kv_dim)) {
        fprintf(stderr, "an identity compressor is linear with latent_dim = kv_dim (%u)\n", kv_dim);
        return 2;
    }

    gguf_context * gguf = gguf_init_empty();
    gguf_set_val_str(gguf, "general.type", get("--type", "deltakv").c_str());
    gguf_set_val_str(gguf, "general.architecture", get("--arch", model->arch_name()).c_str());
    gguf_set_val_str(gguf, "general.name", (kind + " DeltaKV compressor").c_str());
    gguf_set_val_u32(gguf, "deltakv.version", 1);
    char model_name[256] = {0};
    llama_model_meta_val_str(model, "general.name", model_name, sizeof(model_name));
    gguf_set_val_str(gguf, "deltakv.model.name", get("--model-name", model_name).c_str());
    gguf_set_val_str(gguf, "deltakv.model.layout", get("--model-layout", llama_deltakv_model_layout(*model)).c_str());
    gguf_set_val_u32(gguf, "deltakv.n_layer", n_layer);
    gguf_set_val_u32(gguf, "deltakv.n_head_kv", n_head_kv);
    gguf_set_val_u32(gguf, "deltakv.head_dim", head_dim);
    gguf_set_val_u32(gguf, "deltakv.kv_dim", kv_dim);
    gguf_set_val_u32(gguf, "deltakv.latent_dim", d);
    gguf_set_val_str(gguf, "deltakv.encoder", encoder.c_str());
    if (encoder == "swiglu") {
        gguf_set_val_u32(gguf, "deltakv.encoder_ff", ff);
    }
    gguf_set_val_str(gguf, "deltakv.decoder", "linear");
    gguf_set_arr_data(gguf, "deltakv.full_layers", GGUF_TYPE_INT32, full.data(), full.size());
    gguf_set_val_u32(gguf, "deltakv.n_sink", std::stoul(get("--sink", "8")));
    gguf_set_val_u32(gguf, "deltakv.n_recent", std::stoul(get("--recent", "128")));
    gguf_set_val_u32(gguf, "deltakv.n_neighbors", std::stoul(get("--neighbors", "4")));
    gguf_set_val_u32(gguf, "deltakv.center_stride", std::stoul(get("--stride", "10")));
    gguf_set_val_u32(gguf, "deltakv.top_k", std::stoul(get("--top-k", "2048")));
    gguf_set_val_u32(gguf, "deltakv.latent_bits", std::stoul(get("--bits", "16")));
    gguf_set_val_u32(gguf, "deltakv.latent_group", 32);

    // weights: F32, identity or random N(0, 1/in)
    std::mt19937 rng(std::stoul(get("--seed", "42")));
    std::vector<std::pair<std::string, std::vector<int64_t>>> shapes;
    for (uint32_t il = 0; il < n_layer; ++il) {
        if (std::find(full.begin(), full.end(), (int32_t) il) != full.end()) {
            continue;
        }
        const std::string p = "blk." + std::to_string(il) + ".";
        if (encoder == "linear") {
            shapes.push_back({p + "dkv_enc.weight", {kv_dim, d}});
        } else {
            shapes.push_back({p + "dkv_enc_w12.weight", {kv_dim, 2 * ff}});
            shapes.push_back({p + "dkv_enc_w3.weight", {ff, d}});
        }
        shapes.push_back({p + "dkv_dec.weight", {d, kv_dim}});
    }
    size_t total = 0;
    for (auto & s : shapes) {
        total += ggml_tensor_overhead() + (size_t) s.second[0] * s.second[1] * sizeof(float);
    }
    const std::string wtype = get("--weight-type", "f32");
    const ggml_type   type  = wtype == "f16" ? GGML_TYPE_F16 : wtype == "bf16" ? GGML_TYPE_BF16 : GGML_TYPE_F32;
    if (type == GGML_TYPE_F32 && wtype != "f32") {
        fprintf(stderr, "--weight-type: f32, f16 or bf16, not %s\n", wtype.c_str());
        return 2;
    }
    ggml_init_params ip = { total + 1024, nullptr, false };
    ggml_context * ctx = ggml_init(ip);
    std::vector<float> w;
    for (auto & [name, ne] : shapes) {
        if (name == drop) {
            continue;
        }
        ggml_tensor * t = ggml_new_tensor_2d(ctx, type, ne[0], ne[1]);
        ggml_set_name(t, name.c_str());
        w.resize(ne[0] * ne[1]);
        std::normal_distribution<float> normal(0.0f, 1.0f / std::sqrt((float) ne[0]));
        for (int64_t r = 0; r < ne[1]; ++r) {
            for (int64_t c = 0; c < ne[0]; ++c) {
                w[r * ne[0] + c] = kind == "identity" ? (r == c ? 1.0f : 0.0f) : normal(rng);
            }
        }
        if (name == nan) {
            w[0] = NAN;
        }
        if (type == GGML_TYPE_F16) {
            ggml_fp32_to_fp16_row(w.data(), (ggml_fp16_t *) t->data, (int64_t) w.size());
        } else if (type == GGML_TYPE_BF16) {
            ggml_fp32_to_bf16_row(w.data(), (ggml_bf16_t *) t->data, (int64_t) w.size());
        } else {
            memcpy(t->data, w.data(), w.size() * sizeof(float));
        }
        gguf_add_tensor(gguf, t);
    }
    const bool ok = gguf_write_to_file(gguf, argv[3], false);
    gguf_free(gguf);
    ggml_free(ctx);
    llama_model_free(model);
    if (!ok) {
        fprintf(stderr, "cannot write %s\n", argv[3]);
        return 1;
    }
    printf("wrote %s: %s %s compressor, latent %u, kv_dim %u, %zu tensors\n", argv[3], kind.c_str(), encoder.c_str(),
           d, kv_dim, shapes.size() - (drop.empty() ? 0 : 1));
    return 0;
}

static int cmd_check(int argc, char ** argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: deltakv-sidefile check MODEL FILE\n");
        return 2;
    }
    llama_model * model = load_model(argv[2]);
    if (model == nullptr) {
        return 1;
    }
    llama_deltakv * dkv = llama_deltakv_load(model, argv[3], llama_deltakv_default_params());
    if (dkv == nullptr) {
        llama_model_free(model);
        return 1; // the reason was logged
    }
    const char * keys[] = {"model_name", "model_layout", "model_matches", "architecture", "n_layer", "n_head_kv", "head_dim", "kv_dim", "latent_dim", "encoder",
                           "decoder", "full_layers", "n_sink", "n_recent", "n_neighbors", "center_stride", "top_k",
                           "latent_bits", "latent_group"};
    char buf[256];
    for (const char * k : keys) {
        llama_deltakv_meta_val_str(dkv, k, buf, sizeof(buf));
        printf("%s=%s\n", k, buf);
    }
    llama_deltakv_free(dkv);
    llama_model_free(model);
    return 0;
}

// Known answers worked out by hand from the formula of the DeltaKV spec, section 5.4.
static int cmd_int4_selftest() {
    struct known {
        const char *          what;
        std::vector<float>    z;        // one group of 32
        uint16_t              scale;    // bf16 bits
        uint16_t              min;      // bf16 bits
        std::vector<uint32_t> codes;    // 4 words
        std::vector<float>    dequant;  // checked where given (index, value) pairs below
        std::vector<std::pair<int, float>> checks;
    };
    std::vector<known> cases;
    {
        // 0..15 then 15..0: mn 0, mx 15, scale 1; q_i = round(z / 1.000001) = z
        known k{"ramp 0..15..0", {}, 0x3F80, 0x0000, {0x76543210u, 0xFEDCBA98u, 0x89ABCDEFu, 0x01234567u}, {}, {}};
        for (int i = 0; i < 16; ++i) k.z.push_back((float) i);
        for (int i = 0; i < 16; ++i) k.z.push_back((float) (15 - i));
        k.checks = {{0, 0.0f}, {5, 5.0f}, {15, 15.0f}, {31, 0.0f}};
        cases.push_back(k);
    }
    {
        // 0, 2, ..., 30 then 1, 3, ..., 29, 0: mn 0, mx 30, scale 2. Even values are exact; odd values sit
        // just under a half step because of the +1e-6 (1 / 2.000001 = 0.4999998 -> 0, 29 -> 14.4999928 -> 14)
        known k{"half steps", {}, 0x4000, 0x0000, {0x76543210u, 0xFEDCBA98u, 0x76543210u, 0x0EDCBA98u}, {}, {}};
        for (int i = 0; i < 16; ++i) k.z.push_back((float) (2 * i));
        for (int i = 0; i < 15; ++i) k.z.push_back((float) (2 * i + 1));
        k.z.push_back(0.0f);
        k.checks = {{1, 2.0f}, {15, 30.0f}, {16, 0.0f}, {17, 2.0f}, {30, 28.0f}, {31, 0.0f}};
        cases.push_back(k);
    }
    {
        // mn -1, mx 0.5: scale 0.1 is stored as bf16 0x3DCD = 0.10009765625; 0.5 -> q 15 -> 0.50146484375
        known k{"bf16 scale", {}, 0x3DCD, 0xBF80, {}, {}, {}};
        k.z.push_back(-1.0f);
        k.z.push_back(0.5f);
        for (int i = 2; i < 32; ++i) k.z.push_back(-0.75f); // (0.25 / 0.100001) = 2.49998 -> 2
        uint32_t w0 = 0xFu << 4;
        for (int j = 2; j < 8; ++j) w0 |= 2u << (4 * j);
        uint32_t wr = 0;
        for (int j = 0; j < 8; ++j) wr |= 2u << (4 * j);
        k.codes = {w0, wr, wr, wr};
        k.checks = {{0, -1.0f}, {1, 0.50146484375f}, {2, -0.7998046875f}};
        cases.push_back(k);
    }
    int failures = 0;
    for (const auto & k : cases) {
        uint32_t codes[4];
        ggml_bf16_t scale, min;
        llama_deltakv_quantize_int4(k.z.data(), 32, 32, codes, &scale, &min);
        float back[32];
        llama_deltakv_dequantize_int4(codes, &scale, &min, 32, 32, back);
        bool ok = scale.bits == k.scale && min.bits == k.min;
        for (int w = 0; w < 4; ++w) ok = ok && codes[w] == k.codes[w];
        for (auto [i, v] : k.checks) ok = ok && back[i] == v;
        printf("int4 %-14s scale %04x min %04x codes %08x %08x %08x %08x: %s\n", k.what, scale.bits, min.bits, codes[0],
               codes[1], codes[2], codes[3], ok ? "ok" : "MISMATCH");
        failures += ok ? 0 : 1;
    }
    printf("int4 selftest: %zu vectors, %d mismatches\n", cases.size(), failures);
    return failures == 0 ? 0 : 1;
}

int main(int argc, char ** argv) {
    const std::string cmd = argc > 1 ? argv[1] : "";
    if (cmd != "int4-selftest") {
        llama_log_set([](ggml_log_level level, const char * text, void *) {
            // errors, and the loader's warnings about the side file
            if (level == GGML_LOG_LEVEL_ERROR || (level == GGML_LOG_LEVEL_WARN && strstr(text, "DeltaKV") != nullptr)) {
                fputs(text, stderr);
            }
        }, nullptr);
        ggml_backend_load_all();
    }
    if (cmd == "write") return cmd_write(argc, argv);
    if (cmd == "check") return cmd_check(argc, argv);
    if (cmd == "int4-selftest") return cmd_int4_selftest();
    fprintf(stderr, "usage: deltakv-sidefile write|check|int4-selftest ...\n");
    return 2;
}
