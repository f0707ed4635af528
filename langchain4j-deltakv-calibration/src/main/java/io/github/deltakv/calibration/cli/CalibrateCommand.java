package io.github.deltakv.calibration.cli;

import io.github.deltakv.calibration.DeltaKvCalibrator;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code calibrate}: makes a DeltaKV compressor for a GGUF model with {@link DeltaKvCalibrator}. */
@Command(name = "calibrate",
        description = "Makes a DeltaKV compressor for a GGUF model from the principal directions of its KV residuals"
                + " on a calibration text (no training).")
final class CalibrateCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "MODEL.gguf", description = "The model.")
    Path model;

    @Option(names = "--out", required = true, paramLabel = "OUT.gguf", description = "The side file to write.")
    Path out;

    @Option(names = "--latent-dim", required = true, paramLabel = "D",
            description = "Latent width (a multiple of 32 for 4- and 8-bit latents).")
    int latentDim;

    @Option(names = "--latent-bits", paramLabel = "4|8|16", description = "Bits per latent value (default 4).")
    Integer latentBits;

    @Option(names = "--rotate-latents", description = "Rotate the latent basis: less int4 quantisation error, the same "
            + "compressor otherwise.")
    boolean rotateLatents;

    @Option(names = "--full-layers", paramLabel = "0,4|auto:N", converter = FullLayers.Converter.class,
            description = "Layers kept uncompressed, or auto:N to choose N from the model's attention (default 0).")
    FullLayers fullLayers;

    @Option(names = "--text", paramLabel = "FILE",
            description = "Calibration text, UTF-8 (default: the built-in text).")
    Path text;

    @Option(names = "--max-tokens", paramLabel = "N", description = "Tokens of the text read (default 8192).")
    Integer maxTokens;

    @Option(names = "--threads", paramLabel = "N", description = "CPU threads (default: all cores).")
    Integer threads;

    @Override
    public Integer call() throws IOException {
        PrintWriter err = spec.commandLine().getErr();
        DeltaKvCalibrator.Builder builder = DeltaKvCalibrator.builder()
                .modelPath(model)
                .latentDim(latentDim)
                .latentBits(latentBits)
                .rotateLatents(rotateLatents)
                .maxTokens(maxTokens)
                .threads(threads)
                .progress((stage, fraction) -> progressBar(err, stage, fraction));
        if (fullLayers != null) {
            builder.fullLayers(fullLayers.layers()).fullLayerCount(fullLayers.count());
        }
        if (text != null) {
            builder.text(Files.readString(text, StandardCharsets.UTF_8));
        }
        DeltaKvCalibrator.Result r = builder.build().calibrate(out);
        err.println();
        PrintWriter stdout = spec.commandLine().getOut();
        stdout.printf("wrote %s: %d tokens read, full layers %s, %d residuals per layer%n", r.sideFile(), r.tokens(),
                r.fullLayers(), r.residualsPerLayer());
        r.varianceKept().forEach((layer, kept) -> stdout.printf("  layer %2d: %.1f%% of the residual variance kept%n",
                layer, 100 * kept));
        return 0;
    }

    private static void progressBar(PrintWriter err, String stage, double fraction) {
        int width = 30;
        int done = (int) Math.round(Math.max(0, Math.min(1, fraction)) * width);
        err.printf("\r[calibrate] %-24.24s [%s%s] %3d%%", stage, "#".repeat(done), " ".repeat(width - done),
                Math.round(100 * fraction));
    }
}
