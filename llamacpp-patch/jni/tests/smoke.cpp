// deltakv-smoke: the native decode path without Java, for CPU and GPU checks.
// usage: deltakv-smoke MODEL N_GPU_LAYERS N_PREDICT PROMPT_FILE|-
// Loads the backends next to the binary's libraries, prints the devices, renders PROMPT as one user
// message with the model's chat template, generates greedily and prints the answer and KV stats.
#include "chat_format.h"
#include "engine.h"

#include "ggml-backend.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

static std::string json_string(const std::string & s) {
    std::string out = "\"";
    for (char c : s) {
        switch (c) {
            case '"':  out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\t': out += "\\t"; break;
            default:
                if ((unsigned char) c < 0x20) {
                    char buf[8];
                    snprintf(buf, sizeof(buf), "\\u%04x", c);
                    out += buf;
                } else {
                    out += c;
                }
        }
    }
    return out + "\"";
}

int main(int argc, char ** argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s MODEL N_GPU_LAYERS N_PREDICT PROMPT_FILE|-\n", argv[0]);
        return 2;
    }
    std::stringstream prompt;
    if (std::string(argv[4]) == "-") {
        prompt << std::cin.rdbuf();
    } else {
        std::ifstream in(argv[4]);
        prompt << in.rdbuf();
    }

    llama_log_set([](ggml_log_level level, const char * text, void *) {
        if (level >= GGML_LOG_LEVEL_WARN && level != GGML_LOG_LEVEL_CONT) {
            fputs(text, stderr);
        }
    }, nullptr);
    ggml_backend_load_all();
    llama_backend_init();
    for (size_t i = 0; i < ggml_backend_dev_count(); ++i) {
        ggml_backend_dev_t dev = ggml_backend_dev_get(i);
        printf("device: %s (%s)\n", ggml_backend_dev_name(dev), ggml_backend_dev_description(dev));
    }

    dkv::model_placement placement;
    placement.n_gpu_layers = atoi(argv[2]);
    std::unique_ptr<dkv::model_handle> model(dkv::load_model(argv[1], placement, {}));
    if (!model) {
        fprintf(stderr, "failed to load %s\n", argv[1]);
        return 1;
    }
    std::unique_ptr<dkv::session_handle> session(dkv::new_session(model.get(), 16384, 512, 4, -1, dkv::deltakv_config{}));
    if (!session) {
        fprintf(stderr, "failed to create a context\n");
        return 1;
    }
    std::unique_ptr<dkv::chat_templates> tmpl(dkv::new_chat_templates(model->model, ""));
    const std::string text = dkv::apply_chat_template(
        tmpl.get(), "[{\"role\":\"user\",\"content\":" + json_string(prompt.str()) + "}]", true);
    const auto tokens = dkv::tokenize(model->vocab, text, true, true);

    dkv::sampling_params sp;
    sp.temperature = 0.0f;
    sp.max_tokens  = atoi(argv[3]);
    std::string answer;
    dkv::generation_callbacks cb;
    cb.on_token = [&](llama_token, const std::string & piece) {
        answer += piece;
        return true;
    };
    const dkv::generation_result r = session->generate(tokens, 0, sp, cb);
    const auto kv = dkv::kv_stats(session.get());
    printf("prompt_tokens: %zu\n", tokens.size());
    printf("generated_tokens: %d\n", r.n_generated);
    printf("finish: %d\n", r.finish);
    printf("kv_bytes_allocated: %lld\n", (long long) kv[2]);
    printf("answer: %s\n", answer.c_str());
    return 0;
}
