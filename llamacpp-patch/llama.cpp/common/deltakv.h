#pragma once

// DeltaKV in the llama.cpp tools (the --deltakv flags of common_params): the compressor loaded for a model, and the
// DeltaKV memory's statistics in the performance report.

#include "common.h"
#include "llama-deltakv.h"

// the compressor of params.deltakv for model, nullptr (the reason logged) when it cannot be loaded
struct llama_deltakv * common_deltakv_load(const struct llama_model * model, const common_params::common_params_deltakv & params);

// prints the DeltaKV memory's tokens and bytes by class when ctx uses it
void common_deltakv_print_stats(const struct llama_context * ctx);
