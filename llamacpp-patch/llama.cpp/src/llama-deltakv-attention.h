#pragma once

// DeltaKV attention in the model graph (DeltaKV spec 6.1, 6.3): the full layers use the ordinary cache path, with the
// observation layers also choosing the top-k compressed tokens for the DeltaKV layers after them; a DeltaKV layer
// stores its new tokens' pre-RoPE [K | V] rows and attends over [sink | raw buffer | reconstructed compressed tokens].
// What each token attends is planned by the input (llama-deltakv-attention-input.h).

#include "llama-deltakv-attention-input.h"

// the DeltaKV input: the full layers' inputs plus the DeltaKV ones
llm_graph_input_attn_kv_deltakv * llama_deltakv_build_inp_attn(const llm_graph_context & g);

// attention of a DeltaKV layer (k_cur is post-RoPE, as the model graph hands it to build_attn)
ggml_tensor * llama_deltakv_build_attn(
        const llm_graph_context & g,
        llm_graph_input_attn_kv_deltakv * inp,
        ggml_tensor * wo,
        ggml_tensor * wo_b,
        ggml_tensor * wo_s,
        ggml_tensor * q_cur,
        ggml_tensor * k_cur,
        ggml_tensor * v_cur,
        ggml_tensor * kq_b,
        ggml_tensor * sinks,
              float   kq_scale,
                int   il);

// at an observation layer in RECON_TOPK mode: score the compressed candidates with this full layer's
// post-RoPE q and cached K, and choose the top-k for the DeltaKV layers that follow
void llama_deltakv_build_selection(
        const llm_graph_context & g,
        llm_graph_input_attn_kv_deltakv * inp,
        ggml_tensor * q_cur,
              float   kq_scale,
                int   il);
