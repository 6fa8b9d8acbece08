"""The inference runtime (software stack) a run assumes: one list, with a default per device class.

The same chip reaches very different fractions of its peak under different stacks (llama.cpp's
batch-1 CUDA kernels on an H100 read weights at a smaller fraction of bandwidth than
TensorRT-LLM's), so the calibration is keyed by hardware x runtime x weight format, and every run
names its runtime: given (`--runtime`, a sweep axis), or the default of the hardware's class.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

from hwsim.errors import ConfigError

if TYPE_CHECKING:
    from hwsim.spec.hardware import HardwareSpec


class Runtime(str, Enum):
    """Runtimes seen in the measured rows (validation/mapping.yaml maps each source to one)."""

    LLAMA_CPP = "llama.cpp"        # also Ollama, which runs llama.cpp
    # llama.cpp launching every kernel from the host, token by token: CUDA builds before CUDA
    # graphs (ggml-org/llama.cpp PR #6766, May 2024) or run with GGML_CUDA_DISABLE_GRAPHS=1. Its
    # per-op launch is a host launch, several times the graph-replayed one of current builds
    # (the "eager" of vLLM's enforce_eager).
    LLAMA_CPP_EAGER = "llama.cpp-eager"
    # llama.cpp's Vulkan backend (AMD and other GPUs without CUDA): its own compute shaders and
    # dispatch, a different stack from the CUDA and Metal backends the llama.cpp rows ran.
    LLAMA_CPP_VULKAN = "llama.cpp-vulkan"
    TENSORRT_LLM = "tensorrt-llm"
    MLC = "mlc"                    # MLC LLM / TVM
    QNN = "qnn"                    # Qualcomm QNN / Genie on the Hexagon NPU
    RKLLM = "rkllm"                # Rockchip RKLLM on the RKNPU
    PYTORCH = "pytorch"            # PyTorch eager: HF transformers, torch.matmul kernel timings
    EXECUTORCH = "executorch"
    MLX = "mlx"
    EXLLAMA = "exllama"            # ExLlama v1 / v2
    LMDEPLOY = "lmdeploy"
    VLLM = "vllm"
    TINYCHAT = "tinychat"          # llm-awq TinyChat
    HAILO = "hailo"                # Hailo GenAI runtime
    GROQ = "groq"                  # GroqWare compiler / runtime

    def __str__(self) -> str:
        return self.value


ALIASES = {"ollama": Runtime.LLAMA_CPP, "llamacpp": Runtime.LLAMA_CPP, "llama-cpp": Runtime.LLAMA_CPP,
           "trt-llm": Runtime.TENSORRT_LLM, "trtllm": Runtime.TENSORRT_LLM, "mlc-llm": Runtime.MLC,
           "genie": Runtime.QNN, "hf-eager": Runtime.PYTORCH, "transformers": Runtime.PYTORCH,
           "exllamav2": Runtime.EXLLAMA}

# The runtime a class is most often deployed with (and has measured rows for), used when a run
# names none.
DEFAULT_RUNTIME: dict[str, Runtime] = {
    "datacenter_gpu": Runtime.TENSORRT_LLM,
    "consumer_gpu": Runtime.LLAMA_CPP,
    "edge_gpu": Runtime.MLC,
    "apple_gpu": Runtime.LLAMA_CPP,
    "mobile_npu": Runtime.QNN,
    "edge_npu": Runtime.RKLLM,
    "cpu": Runtime.LLAMA_CPP,
    "sram_accelerator": Runtime.GROQ,
}

# GEMM types whose kernels in a runtime issue only the warp-level MMA instructions of the
# generation before Hopper (`mma.sync`), so on a device with a `legacy_mma_fraction` they reach
# that share of the type's peak (HardwareSpec.datapath; runtime_peaks below). llama.cpp's CUDA
# backend runs its quantised formats through its MMQ kernels, int8 `mma.sync` tiles
# (ggml/src/ggml-cuda/mma.cuh; no `wgmma` in the backend); its F16 / BF16 GEMMs go to cuBLAS,
# which issues `wgmma` on Hopper and is not capped.
LEGACY_MMA: dict[Runtime, tuple[str, ...]] = {
    Runtime.LLAMA_CPP: ("int8",),
    Runtime.LLAMA_CPP_EAGER: ("int8",),
}


def runtime_peaks(hardware: HardwareSpec, runtime: Runtime) -> HardwareSpec:
    """`hardware` as `runtime`'s kernels see it: where the runtime issues only legacy MMA
    instructions for a type and the device states the share those reach, that type's matrix
    peak is scaled to it (the peak the runtime can reach, which its fitted fractions are of)."""
    fraction = hardware.datapath.legacy_mma_fraction
    capped = [d for d in LEGACY_MMA.get(runtime, ()) if d in hardware.matrix.peak]
    if fraction is None or not capped:
        return hardware
    matrix = hardware.matrix
    peak = {d: rate * fraction if d in capped else rate for d, rate in matrix.peak.items()}
    compute = {**hardware.compute, hardware.matrix_name: matrix.model_copy(update={"peak": peak})}
    return hardware.model_copy(update={"compute": compute})


def parse_runtime(text: str | Runtime, where: str = "runtime") -> Runtime:
    """A Runtime from its name or an alias (case-insensitive); ConfigError naming `where` else."""
    if isinstance(text, Runtime):
        return text
    key = str(text).strip().lower()
    if key in ALIASES:
        return ALIASES[key]
    try:
        return Runtime(key)
    except ValueError:
        known = ", ".join(r.value for r in Runtime)
        raise ConfigError(f"{where}: unknown runtime {text!r}; known: {known} (aliases: {', '.join(ALIASES)})") from None


def default_runtime(device_class: str) -> Runtime:
    return DEFAULT_RUNTIME.get(device_class, Runtime.LLAMA_CPP)
