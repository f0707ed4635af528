package io.github.deltakv.langchain4j.compressor;

import io.github.deltakv.langchain4j.internal.CommandLineOptions;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Command line: make a DeltaKV compressor for a GGUF model (see {@link DeltaKvCalibrator}).
 *
 * <pre>
 * java -cp ... io.github.deltakv.langchain4j.compressor.Calibrate --model model.gguf --out model.deltakv.gguf \
 *     --latent-dim 64 [--latent-bits 4|8|16] [--full-layers 0,4 | auto:N] [--text FILE] [--max-tokens 8192] [--threads N]
 * </pre>
 */
public final class Calibrate {

    private Calibrate() {
    }

    public static void main(String[] args) throws Exception {
        CommandLineOptions opt = CommandLineOptions.parse(args, "Calibrate --model MODEL.gguf --out OUT.gguf --latent-dim D"
                + " [--latent-bits 4|8|16] [--full-layers 0,4 | auto:N] [--text FILE] [--max-tokens N] [--threads N]",
                "model", "out", "latent-dim");
        DeltaKvCalibrator.Builder b = DeltaKvCalibrator.builder()
                .modelPath(Path.of(opt.get("model")))
                .latentDim(Integer.parseInt(opt.get("latent-dim")))
                .progress(Calibrate::bar);
        if (opt.has("latent-bits")) {
            b.latentBits(Integer.parseInt(opt.get("latent-bits")));
        }
        String full = opt.get("full-layers");
        if (full != null && full.startsWith("auto:")) {
            b.fullLayerCount(Integer.valueOf(full.substring(5))); // chosen from attention overlap
        } else if (full != null) {
            b.fullLayers(CommandLineOptions.ints(full));
        }
        if (opt.has("text")) {
            b.text(Files.readString(Path.of(opt.get("text")), StandardCharsets.UTF_8));
        }
        if (opt.has("max-tokens")) {
            b.maxTokens(Integer.parseInt(opt.get("max-tokens")));
        }
        if (opt.has("threads")) {
            b.threads(Integer.parseInt(opt.get("threads")));
        }
        DeltaKvCalibrator.Result r = b.build().calibrate(Path.of(opt.get("out")));
        System.err.println();
        System.out.printf("wrote %s: %d tokens read, full layers %s, %d residuals per layer%n", r.sideFile(), r.tokens(),
                r.fullLayers(), r.residualsPerLayer());
        r.varianceKept().forEach((layer, kept) -> System.out.printf("  layer %2d: %.1f%% of the residual variance kept%n",
                layer, 100 * kept));
    }

    private static void bar(String stage, double fraction) {
        int width = 30;
        int done = (int) Math.round(Math.max(0, Math.min(1, fraction)) * width);
        System.err.printf("\r[calibrate] %-24.24s [%s%s] %3d%%", stage, "#".repeat(done), " ".repeat(width - done),
                Math.round(100 * fraction));
    }
}
