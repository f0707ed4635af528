package io.github.deltakv.langchain4j;

/** How a model's layers are spread over several devices (llama.cpp's {@code llama_split_mode}). */
public enum SplitMode {

    /** Everything on one device ({@code mainGpu}). */
    NONE,

    /**
     * Whole layers, each with its KV cache (and, with DeltaKV, its compressed history and compressor), on one of the
     * devices, in the proportions of {@code tensorSplit} (default, as in llama.cpp).
     */
    LAYER,

    /** Each weight matrix split by rows over the GPUs (CUDA only); the KV cache on {@code mainGpu}. */
    ROW
}
