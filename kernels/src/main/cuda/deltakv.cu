// DeltaKV's ggml ops on CUDA: each GGML_OP_DELTAKV_* node to its kernel, and which types and shapes they take.
#include "deltakv.cuh"
#include "deltakv-mask.cuh"
#include "deltakv-nearest.cuh"
#include "deltakv-recon.cuh"
#include "deltakv-rows.cuh"
#include "deltakv-score.cuh"

void ggml_cuda_op_deltakv(ggml_backend_cuda_context & ctx, ggml_tensor * dst) {
    switch (dst->op) {
        case GGML_OP_DELTAKV_RECON:   ggml_cuda_op_deltakv_recon(ctx, dst);   break;
        case GGML_OP_DELTAKV_ROWS:    ggml_cuda_op_deltakv_rows(ctx, dst);    break;
        case GGML_OP_DELTAKV_SCORE:   ggml_cuda_op_deltakv_score(ctx, dst);   break;
        case GGML_OP_DELTAKV_NEAREST: ggml_cuda_op_deltakv_nearest(ctx, dst); break;
        case GGML_OP_DELTAKV_MASK:    ggml_cuda_op_deltakv_mask(ctx, dst);    break;
        default: GGML_ABORT("not a DeltaKV op: %s", ggml_op_name(dst->op));
    }
}

bool ggml_cuda_deltakv_supports_op(const ggml_tensor * op) {
    switch (op->op) {
        case GGML_OP_DELTAKV_RECON:
            return op->src[0]->type == GGML_TYPE_F32 && op->src[2]->type == GGML_TYPE_I32 &&
                (op->src[1]->type == GGML_TYPE_F16 || op->src[1]->type == GGML_TYPE_F32);
        case GGML_OP_DELTAKV_ROWS:
            return op->src[0]->type == GGML_TYPE_F16 || op->src[0]->type == GGML_TYPE_F32;
        case GGML_OP_DELTAKV_SCORE:
            return ggml_cuda_deltakv_score_supported(op);
        case GGML_OP_DELTAKV_NEAREST:
            return op->src[0]->type == GGML_TYPE_F32 && op->op_params[0] <= 8;
        case GGML_OP_DELTAKV_MASK:
            return true;
        default:
            return false;
    }
}
