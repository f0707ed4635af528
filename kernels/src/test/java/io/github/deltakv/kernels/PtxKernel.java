package io.github.deltakv.kernels;

import static jcuda.driver.JCudaDriver.cuCtxCreate;
import static jcuda.driver.JCudaDriver.cuCtxDestroy;
import static jcuda.driver.JCudaDriver.cuCtxSynchronize;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDeviceGetCount;
import static jcuda.driver.JCudaDriver.cuInit;
import static jcuda.driver.JCudaDriver.cuLaunchKernel;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;
import static jcuda.driver.JCudaDriver.cuModuleGetFunction;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.JCudaDriver;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * One kernel of a PTX file that the kernels module's build made with nvcc (test resources, {@code /ptx/}), loaded
 * through JCuda's driver API on GPU 0, with the device memory a test allocates for it. When it cannot run here
 * (no PTX, no CUDA driver, no GPU), each test is skipped with the reason. A test class registers it as a static
 * extension field ({@code @RegisterExtension static final PtxKernel KERNEL = ...}); it is closed after the class.
 */
final class PtxKernel implements AutoCloseable, BeforeEachCallback, AfterAllCallback {

    private final String unavailable;
    private final CUcontext context;
    private final CUfunction function;
    private final List<CUdeviceptr> allocations = new ArrayList<>();

    PtxKernel(String ptxResource, String name) {
        byte[] ptx;
        try (InputStream in = PtxKernel.class.getResourceAsStream(ptxResource)) {
            if (in == null) {
                unavailable = "no PTX: nvcc was not on the PATH when the tests were built";
                context = null;
                function = null;
                return;
            }
            byte[] text = in.readAllBytes();
            ptx = Arrays.copyOf(text, text.length + 1); // NUL-terminated for cuModuleLoadData
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        String why = null;
        int[] devices = {0};
        try {
            JCudaDriver.setExceptionsEnabled(true);
            cuInit(0);
            cuDeviceGetCount(devices);
        } catch (Throwable e) {
            why = "no CUDA driver: " + e;
        }
        if (why == null && devices[0] == 0) {
            why = "no GPU";
        }
        unavailable = why;
        if (why != null) {
            context = null;
            function = null;
            return;
        }
        CUdevice device = new CUdevice();
        cuDeviceGet(device, 0);
        context = new CUcontext();
        cuCtxCreate(context, 0, device);
        CUmodule module = new CUmodule();
        cuModuleLoadData(module, ptx);
        function = new CUfunction();
        cuModuleGetFunction(function, module, name);
    }

    @Override
    public void beforeEach(ExtensionContext context) {
        Assumptions.assumeTrue(unavailable == null, unavailable);
    }

    @Override
    public void afterAll(ExtensionContext context) {
        close();
    }

    /** Runs the kernel on a grid of {@code blocks} x 1 x 1 blocks of {@code threads} threads and waits for it. */
    void launch(int blocks, int threads, Pointer params) {
        launch(blocks, 1, threads, 0, params);
    }

    /** Runs the kernel on a grid of {@code blocksX} x {@code blocksY} blocks with dynamic shared memory; waits. */
    void launch(int blocksX, int blocksY, int threads, int sharedBytes, Pointer params) {
        cuLaunchKernel(function, blocksX, blocksY, 1, threads, 1, 1, sharedBytes, null, params, null);
        cuCtxSynchronize();
    }

    CUdeviceptr alloc(long bytes) {
        CUdeviceptr p = new CUdeviceptr();
        cuMemAlloc(p, bytes);
        allocations.add(p);
        return p;
    }

    CUdeviceptr upload(Pointer host, long bytes) {
        CUdeviceptr p = alloc(bytes);
        cuMemcpyHtoD(p, host, bytes);
        return p;
    }

    /** Frees what {@link #alloc} and {@link #upload} took. */
    void freeAll() {
        allocations.forEach(JCudaDriver::cuMemFree);
        allocations.clear();
    }

    @Override
    public void close() {
        freeAll();
        if (context != null) {
            cuCtxDestroy(context);
        }
    }
}
