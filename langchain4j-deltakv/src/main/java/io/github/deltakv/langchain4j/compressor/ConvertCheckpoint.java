package io.github.deltakv.langchain4j.compressor;

import io.github.deltakv.langchain4j.internal.CommandLineOptions;

import java.nio.file.Path;
import java.util.List;

/**
 * Command line: convert a paper compressor checkpoint (safetensors file or directory) into a DeltaKV side
 * file for a GGUF model (see {@link CheckpointConverter}).
 *
 * <pre>
 * ConvertCheckpoint --checkpoint Llama-3.1-8B-Instruct-Compressor/ --model llama-3.1-8b-instruct.gguf \
 *     --out llama-3.1-8b-instruct.deltakv.gguf [--full-layers 0,1,2,8,18] [--latent-bits 16|4] [--permute-k true|false]
 * </pre>
 */
public final class ConvertCheckpoint {

    private ConvertCheckpoint() {
    }

    public static void main(String[] args) throws Exception {
        CommandLineOptions opt = CommandLineOptions.parse(args, "ConvertCheckpoint --checkpoint DIR|FILE --model MODEL.gguf"
                + " --out OUT.gguf [--full-layers 0,1,2,8,18] [--latent-bits 16|4] [--permute-k true|false]",
                "checkpoint", "model", "out");
        List<Integer> full = opt.has("full-layers") ? CommandLineOptions.ints(opt.get("full-layers")) : null;
        int bits = opt.getInt("latent-bits", 16);
        Boolean permute = opt.has("permute-k") ? Boolean.valueOf(opt.get("permute-k")) : null;
        CheckpointConverter.Result r = CheckpointConverter.convert(Path.of(opt.get("checkpoint")), Path.of(opt.get("model")),
                Path.of(opt.get("out")), full, bits, permute);
        System.out.printf("wrote %s: %s encoder (hidden %d), latent %d, %d compressed layers, K %s%n", r.sideFile(),
                r.encoder(), r.hiddenDim(), r.latentDim(), r.layers().size(),
                r.kPermuted() ? "permuted to llama.cpp's order" : "in Hugging Face's order (no permutation)");
    }
}
