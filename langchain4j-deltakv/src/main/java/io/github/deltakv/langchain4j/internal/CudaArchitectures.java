package io.github.deltakv.langchain4j.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Whether the GPUs the CUDA backend found can run the code the CUDA natives were built with. A GPU of compute
 * capability X.Y runs machine code (SASS) built for X.Z with Z <= Y, and PTX built for any capability up to X.Y,
 * compiled when loaded; anything else fails at the first kernel ("no kernel image is available"), which ggml
 * answers by ending the process. The GPUs come from the CUDA backend's log ("Device 0: NVIDIA H200, compute
 * capability 9.0, ..."), the architectures from the build's flags ({@code -DCMAKE_CUDA_ARCHITECTURES=80;86;90}: a
 * plain number is SASS and PTX, {@code -real} SASS only, {@code -virtual} PTX only).
 */
public final class CudaArchitectures {

    private static final Pattern DEVICE = Pattern.compile("Device (\\d+): (.+?), compute capability (\\d+)\\.(\\d+)");
    private static final Pattern ARCHS = Pattern.compile("-DCMAKE_CUDA_ARCHITECTURES=\"?([0-9a-z;,\\-]+)");

    /** A GPU as the CUDA backend reported it. */
    public record Gpu(int index, String name, int major, int minor) {
        int capability() {
            return major * 10 + minor;
        }
    }

    /** An architecture the code was built for: machine code (real), PTX (virtual) or both. */
    record Arch(int capability, boolean real, boolean virtual) {
    }

    private final List<Gpu> gpus = new ArrayList<>();
    private final List<Arch> archs = new ArrayList<>();

    /** From the CUDA backend's log lines and the CUDA build's flags (the BUILD-INFO line {@code flags=...}). */
    public CudaArchitectures(List<String> logLines, String buildFlags) {
        for (String line : logLines) {
            Matcher m = DEVICE.matcher(line);
            if (m.find()) {
                gpus.add(new Gpu(Integer.parseInt(m.group(1)), m.group(2).strip(), Integer.parseInt(m.group(3)),
                        Integer.parseInt(m.group(4))));
            }
        }
        Matcher m = ARCHS.matcher(buildFlags == null ? "" : buildFlags);
        if (m.find()) {
            for (String a : m.group(1).split("[;,]")) {
                if (a.isBlank()) {
                    continue;
                }
                boolean real = !a.endsWith("-virtual");
                boolean virtual = !a.endsWith("-real");
                archs.add(new Arch(Integer.parseInt(a.replaceAll("-(real|virtual)$", "")), real, virtual));
            }
        }
    }

    public List<Gpu> gpus() {
        return List.copyOf(gpus);
    }

    /** Whether code for one of the architectures runs on this GPU. */
    public boolean runs(Gpu gpu) {
        int c = gpu.capability();
        for (Arch a : archs) {
            if (a.real() && a.capability() / 10 == gpu.major() && a.capability() <= c) {
                return true;
            }
            if (a.virtual() && a.capability() <= c) {
                return true;
            }
        }
        return archs.isEmpty(); // architectures unknown: nothing to say
    }

    /** The GPUs none of the architectures runs on, described for a message; empty when all can run. */
    public String unsupported() {
        StringBuilder out = new StringBuilder();
        for (Gpu g : gpus) {
            if (!runs(g)) {
                out.append(out.isEmpty() ? "" : "; ").append("CUDA").append(g.index()).append(" ").append(g.name())
                        .append(" (compute capability ").append(g.major()).append('.').append(g.minor()).append(')');
            }
        }
        return out.toString();
    }

    /** The architectures, as nvcc names them: sm_90 (machine code), compute_90 (PTX). */
    public String built() {
        List<String> names = new ArrayList<>();
        for (Arch a : archs) {
            if (a.real()) {
                names.add("sm_" + a.capability());
            }
            if (a.virtual()) {
                names.add("compute_" + a.capability() + " (PTX)");
            }
        }
        return String.join(", ", names);
    }
}
