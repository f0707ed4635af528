package io.github.deltakv.langchain4j.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;

import org.junit.jupiter.api.Test;

/** Which GPUs the CUDA natives' code runs on, from the backend's log and the build's architectures. */
class CudaArchitecturesTest {

    private static final String H200 = "  Device 0: NVIDIA H200, compute capability 9.0, VMM: yes, VRAM: 143167 MiB";
    private static final String A100 =
            "  Device 1: NVIDIA A100-SXM4-80GB, compute capability 8.0, VMM: yes, VRAM: 81037 MiB";
    private static final String L4 = "  Device 0: NVIDIA L4, compute capability 8.9, VMM: yes, VRAM: 22478 MiB";
    private static final String B200 = "  Device 0: NVIDIA B200, compute capability 10.0, VMM: yes, VRAM: 182642 MiB";

    private static CudaArchitectures of(String flags, String... lines) {
        return new CudaArchitectures(List.of(lines), "flags=-DCMAKE_BUILD_TYPE=Release -DGGML_CUDA=ON " + flags
                + " -DGGML_CUDA_NCCL=OFF");
    }

    @Test
    void the_default_hopper_build_runs_on_hopper_and_newer_only() {
        CudaArchitectures sm90 = of("-DCMAKE_CUDA_ARCHITECTURES=90", H200, A100);
        assertThat(sm90.gpus()).extracting(CudaArchitectures.Gpu::name)
                .containsExactly("NVIDIA H200", "NVIDIA A100-SXM4-80GB");
        assertThat(sm90.unsupported()).isEqualTo("CUDA1 NVIDIA A100-SXM4-80GB (compute capability 8.0)");
        assertThat(sm90.built()).isEqualTo("sm_90, compute_90 (PTX)");
        // PTX for 9.0 compiles for a newer GPU when loaded
        assertThat(of("-DCMAKE_CUDA_ARCHITECTURES=90", B200).unsupported()).isEmpty();
    }

    @Test
    void machine_code_runs_on_the_same_major_version_and_ptx_on_any_later() {
        assertThat(of("-DCMAKE_CUDA_ARCHITECTURES=80-real", L4).unsupported()).isEmpty(); // sm_80 SASS on 8.9
        assertThat(of("-DCMAKE_CUDA_ARCHITECTURES=80-real", H200).unsupported()).contains("NVIDIA H200");
        assertThat(of("-DCMAKE_CUDA_ARCHITECTURES=89-real", A100).unsupported()).contains("NVIDIA A100");
        assertThat(of("-DCMAKE_CUDA_ARCHITECTURES=\"80-real;86-real;89-real;90-real;90-virtual\"", A100, L4, H200, B200)
                .unsupported()).isEmpty();
        assertThat(of("-DCMAKE_CUDA_ARCHITECTURES=90-virtual", H200).built()).isEqualTo("compute_90 (PTX)");
    }

    @Test
    void without_known_architectures_or_gpus_nothing_is_refused() {
        assertThat(of("", A100).unsupported()).isEmpty();
        assertThat(of("-DCMAKE_CUDA_ARCHITECTURES=90").gpus()).isEmpty();
    }
}
