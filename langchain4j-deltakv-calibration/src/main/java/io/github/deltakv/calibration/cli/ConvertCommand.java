package io.github.deltakv.calibration.cli;

import io.github.deltakv.calibration.CheckpointConverter;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code convert}: a paper compressor checkpoint into a DeltaKV side file, with {@link CheckpointConverter}. */
@Command(name = "convert",
        description = "Converts a paper compressor checkpoint (safetensors file or directory) into a DeltaKV side file"
                + " for a GGUF model.")
final class ConvertCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--checkpoint", required = true, paramLabel = "DIR|FILE", description = "The checkpoint.")
    Path checkpoint;

    @Option(names = "--model", required = true, paramLabel = "MODEL.gguf", description = "The model it is for.")
    Path model;

    @Option(names = "--out", required = true, paramLabel = "OUT.gguf", description = "The side file to write.")
    Path out;

    @Option(names = "--full-layers", split = ",", paramLabel = "0,1,2,8,18",
            description = "Layers kept uncompressed (default: the paper's set for Llama-3.1-8B and Qwen2.5-7B shapes).")
    List<Integer> fullLayers;

    @Option(names = "--latent-bits", defaultValue = "4", paramLabel = "4|8|16",
            description = "Bits per latent value (default ${DEFAULT-VALUE}).")
    int latentBits;

    @Option(names = "--permute-k", arity = "1", paramLabel = "true|false",
            description = "Permute K into llama.cpp's order (default: for the llama architecture).")
    Boolean permuteK;

    @Override
    public Integer call() throws IOException {
        CheckpointConverter.Result r = CheckpointConverter.convert(checkpoint, model, out, fullLayers, latentBits,
                permuteK);
        spec.commandLine().getOut().printf("wrote %s: %s encoder (hidden %d), latent %d (%d bits), %d compressed layers,"
                + " %s weights, K %s; %d neighbours, stride %d (from %s)%n", r.sideFile(), r.encoder(), r.hiddenDim(),
                r.latentDim(), latentBits, r.layers().size(), r.weights(),
                r.kPermuted() ? "permuted to llama.cpp's order" : "in Hugging Face's order (no permutation)",
                r.neighbors(), r.stride(), r.settingsFrom());
        return 0;
    }
}
