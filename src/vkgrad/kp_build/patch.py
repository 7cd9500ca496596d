"""Patch the kp 0.9.0 source tree for vkgrad: shared pipelines, barriers by dependency, fences.

kp 0.9.0 builds a VkPipeline per Algorithm (an Algorithm binds one set of buffers), records
no compute->compute barrier between dispatches, creates and destroys a fence per submit and
enables the Khronos validation layer whenever it is installed. This changes:

* **pipelines per shader variant**: an Algorithm looks its variant up (SPIR-V, specialization
  constants, push-constant size, binding count) in a per-device table; the shader module,
  descriptor set layout, pipeline layout and pipeline are built once, from one
  VkPipelineCache per device, and kept until the device is destroyed. An Algorithm then owns
  only a descriptor pool with the one set that binds its buffers.
  ``Manager.pipeline_cache_data()`` / ``Manager.load_pipeline_cache(bytes)`` let vkgrad keep
  the cache on disk; ``Manager.vkgrad_stats()`` returns the counters;
* **barriers by dependency**: ``kp.OpVkgradBarrier()``, a global memory barrier
  compute|transfer -> compute|transfer, that vkgrad's recorder puts only where an op depends
  on an earlier one in the batch (kp's own per-buffer barriers stay as they are);
* **fences**: a submit takes a fence from a per-device free list (reset) and gives it back
  after its wait, instead of creating and destroying one per submit;
* no validation layer unless asked for: kp enabled VK_LAYER_KHRONOS_validation by itself
  whenever it was installed, which would slow every process on a machine with the layer (CI
  installs it). It is enabled from outside, by ``VK_INSTANCE_LAYERS``, or by kp's
  ``KOMPUTE_ENV_DEBUG_LAYERS``;
* a missing comma in setup.py that glues two CMake arguments together, so the build
  loses -DPYTHON_EXECUTABLE and may pick up another Python;
* a failed ``vkCreateInstance`` (a Vulkan loader without any driver) raises a RuntimeError
  naming the result; kp ignored it and enumerated devices on a null instance, which the
  loader answers with abort(), ending the process (and vkgrad's CPU fallback with it);
* kp's ``numpy<2.0.0`` requirement in setup.py, the limit of the pybind11 it bundles: vkgrad
  builds it against pybind11 >= 2.12 (vkgrad.kp_build.wheel), which supports NumPy 1 and 2;
* ``device_type`` (VkPhysicalDeviceType: 1 integrated, 2 discrete, 3 virtual, 4 CPU),
  ``max_push_constants_size``, ``timestamp_period`` (ns per timestamp tick),
  ``driver_version``, ``vendor_id`` and ``device_id`` in the device property dicts;
* device features: 16-bit storage, and where the device has all of them float16
  arithmetic (VK_KHR_shader_float16_int8) with VK_KHR_cooperative_matrix, for the
  matrix-unit GEMM (``VKGRAD_F16_PACKED=1`` / ``VKGRAD_COOPMAT=0`` turn them off);
  ``Manager.vkgrad_features()`` says what the device has and what is enabled,
  ``Manager.vkgrad_device_info()`` gives the subgroup size and the cooperative-matrix shapes;
* ``kp.vkgrad_barriers = 2``: the patched build whose barriers the caller records
  (1 was the earlier build with a barrier before every dispatch and upload).

Each patch replaces text that occurs exactly once in kp 0.9.0 (or appends to a file), so a
different kp fails loudly instead of half-patched.

``vkgrad-setup-vulkan`` applies it before building; by hand:
``python -m vkgrad.kp_build.patch <the unpacked kp-0.9.0 source tree>``.
"""

from __future__ import annotations

import pathlib
import sys

COMMA_BUG = "'-DKOMPUTE_OPT_DISABLE_VULKAN_VERSION_CHECK=ON'\n"

# Declarations: the per-device state and the functions Sequence, Manager and the Python
# module call.
SHARED_DECLS = """namespace kp {

// vkgrad: one pipeline per shader variant, shared by every Algorithm of that variant.
struct VkgradPipeline
{
    vk::ShaderModule module;
    vk::DescriptorSetLayout setLayout;
    vk::PipelineLayout layout;
    vk::Pipeline pipeline;
};

struct VkgradCounters
{
    uint64_t pipelinesCreated = 0;
    uint64_t pipelinesReused = 0;
    uint64_t descriptorSetsCreated = 0;
    uint64_t fencesCreated = 0;
    uint64_t submits = 0;
    uint64_t pipelinesLive = 0;
    uint64_t fencesFree = 0;
};

struct VkgradDeviceState
{
    vk::PipelineCache cache;
    std::unordered_map<std::string, VkgradPipeline> pipelines;
    std::vector<vk::Fence> freeFences;
    VkgradCounters counters;
};

VkgradCounters vkgradCounters(const vk::Device& device);
std::string vkgradPipelineCacheData(const vk::Device& device);
void vkgradLoadPipelineCache(const vk::Device& device, const std::string& data);
vk::Fence vkgradAcquireFence(const vk::Device& device);
void vkgradReleaseFence(const vk::Device& device, vk::Fence fence);
// Destroys the device's shared pipelines, fences and cache: before vkDestroyDevice.
void vkgradReleaseDevice(const vk::Device& device);

// VkPhysicalDeviceCooperativeMatrixFeaturesKHR, declared here for headers older than it.
struct VkgradCoopMatrixFeatures
{
    VkStructureType sType = static_cast<VkStructureType>(1000506000);
    void* pNext = nullptr;
    VkBool32 cooperativeMatrix = VK_FALSE;
    VkBool32 cooperativeMatrixRobustBufferAccess = VK_FALSE;
};

// One VkCooperativeMatrixPropertiesKHR: M, N, K, A/B/C/result component types, scope.
struct VkgradCoopShape
{
    uint32_t m, n, k;
    int32_t a, b, c, result, scope;
};

// The shapes vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR lists for the device.
std::vector<VkgradCoopShape> vkgradCoopMatrixShapes(const vk::Instance& instance,
                                                    const vk::PhysicalDevice& device);

"""

SHARED_DEFS = r"""
// ---------------------------------------------------------------- vkgrad
// Pipelines shared per shader variant, one VkPipelineCache and a fence pool per device.
namespace kp {

static std::mutex gVkgradMutex;
static std::unordered_map<VkDevice, VkgradDeviceState> gVkgradStates;

static VkgradDeviceState&
vkgradStateLocked(const vk::Device& device)
{
    VkgradDeviceState& st = gVkgradStates[static_cast<VkDevice>(device)];
    if (!st.cache) {
        st.cache = device.createPipelineCache(vk::PipelineCacheCreateInfo());
    }
    return st;
}

VkgradCounters
vkgradCounters(const vk::Device& device)
{
    std::lock_guard<std::mutex> lock(gVkgradMutex);
    VkgradDeviceState& st = vkgradStateLocked(device);
    VkgradCounters c = st.counters;
    c.pipelinesLive = st.pipelines.size();
    c.fencesFree = st.freeFences.size();
    return c;
}

std::string
vkgradPipelineCacheData(const vk::Device& device)
{
    std::lock_guard<std::mutex> lock(gVkgradMutex);
    VkgradDeviceState& st = vkgradStateLocked(device);
    std::vector<uint8_t> data = device.getPipelineCacheData(st.cache);
    return std::string(data.begin(), data.end());
}

void
vkgradLoadPipelineCache(const vk::Device& device, const std::string& data)
{
    std::lock_guard<std::mutex> lock(gVkgradMutex);
    VkgradDeviceState& st = vkgradStateLocked(device);
    // The driver checks the header (vendor, device, cache UUID) and ignores data written by
    // another driver or version, so a stale file only costs the pipelines it would have saved.
    vk::PipelineCacheCreateInfo info(
      vk::PipelineCacheCreateFlags(), data.size(), data.data());
    vk::PipelineCache loaded = device.createPipelineCache(info);
    device.mergePipelineCaches(st.cache, 1, &loaded);
    device.destroy(loaded, (vk::Optional<const vk::AllocationCallbacks>)nullptr);
}

vk::Fence
vkgradAcquireFence(const vk::Device& device)
{
    std::lock_guard<std::mutex> lock(gVkgradMutex);
    VkgradDeviceState& st = vkgradStateLocked(device);
    st.counters.submits++;
    if (!st.freeFences.empty()) {
        vk::Fence fence = st.freeFences.back();
        st.freeFences.pop_back();
        (void)device.resetFences(1, &fence);
        return fence;
    }
    st.counters.fencesCreated++;
    return device.createFence(vk::FenceCreateInfo());
}

void
vkgradReleaseFence(const vk::Device& device, vk::Fence fence)
{
    std::lock_guard<std::mutex> lock(gVkgradMutex);
    vkgradStateLocked(device).freeFences.push_back(fence);
}

void
vkgradReleaseDevice(const vk::Device& device)
{
    std::lock_guard<std::mutex> lock(gVkgradMutex);
    auto it = gVkgradStates.find(static_cast<VkDevice>(device));
    if (it == gVkgradStates.end()) {
        return;
    }
    VkgradDeviceState& st = it->second;
    const vk::Optional<const vk::AllocationCallbacks> none = nullptr;
    for (auto& kv : st.pipelines) {
        device.destroy(kv.second.pipeline, none);
        device.destroy(kv.second.layout, none);
        device.destroy(kv.second.setLayout, none);
        device.destroy(kv.second.module, none);
    }
    for (vk::Fence fence : st.freeFences) {
        device.destroy(fence, none);
    }
    if (st.cache) {
        device.destroy(st.cache, none);
    }
    gVkgradStates.erase(it);
}

void
Algorithm::vkgradCreate()
{
    const vk::Device& device = *this->mDevice;
    const uint32_t nBindings = static_cast<uint32_t>(this->mTensors.size());
    const uint32_t pushBytes =
      this->mPushConstantsDataTypeMemorySize * this->mPushConstantsSize;
    const uint32_t specItem = this->mSpecializationConstantsDataTypeMemorySize;
    const uint32_t specBytes = specItem * this->mSpecializationConstantsSize;

    // The variant: everything the pipeline depends on. The workgroup size is in the SPIR-V
    // (local_size) or its specialization constants; the workgroup *count* is per dispatch.
    std::string key;
    const uint32_t head[4] = { nBindings, pushBytes, specItem, specBytes };
    key.append(reinterpret_cast<const char*>(head), sizeof(head));
    if (specBytes) {
        key.append(static_cast<const char*>(this->mSpecializationConstantsData),
                   specBytes);
    }
    key.append(reinterpret_cast<const char*>(this->mSpirv.data()),
               this->mSpirv.size() * sizeof(uint32_t));

    std::lock_guard<std::mutex> lock(gVkgradMutex);
    VkgradDeviceState& st = vkgradStateLocked(device);
    auto it = st.pipelines.find(key);
    if (it == st.pipelines.end()) {
        VkgradPipeline p;
        vk::ShaderModuleCreateInfo moduleInfo(vk::ShaderModuleCreateFlags(),
                                              sizeof(uint32_t) *
                                                this->mSpirv.size(),
                                              this->mSpirv.data());
        p.module = device.createShaderModule(moduleInfo);

        std::vector<vk::DescriptorSetLayoutBinding> bindings;
        for (uint32_t i = 0; i < nBindings; i++) {
            bindings.push_back(vk::DescriptorSetLayoutBinding(
              i, vk::DescriptorType::eStorageBuffer, 1,
              vk::ShaderStageFlagBits::eCompute));
        }
        vk::DescriptorSetLayoutCreateInfo setLayoutInfo(
          vk::DescriptorSetLayoutCreateFlags(), nBindings, bindings.data());
        p.setLayout = device.createDescriptorSetLayout(setLayoutInfo);

        vk::PipelineLayoutCreateInfo layoutInfo(
          vk::PipelineLayoutCreateFlags(), 1, &p.setLayout);
        vk::PushConstantRange pushRange(
          vk::ShaderStageFlagBits::eCompute, 0, pushBytes);
        if (pushBytes) {
            layoutInfo.setPushConstantRangeCount(1);
            layoutInfo.setPPushConstantRanges(&pushRange);
        }
        p.layout = device.createPipelineLayout(layoutInfo);

        std::vector<vk::SpecializationMapEntry> entries;
        for (uint32_t i = 0; i < this->mSpecializationConstantsSize; i++) {
            entries.push_back(vk::SpecializationMapEntry(i, specItem * i, specItem));
        }
        vk::SpecializationInfo specInfo(static_cast<uint32_t>(entries.size()),
                                        entries.data(),
                                        specBytes,
                                        this->mSpecializationConstantsData);
        vk::PipelineShaderStageCreateInfo stage(vk::PipelineShaderStageCreateFlags(),
                                                vk::ShaderStageFlagBits::eCompute,
                                                p.module,
                                                "main",
                                                specBytes ? &specInfo : nullptr);
        vk::ComputePipelineCreateInfo pipelineInfo(
          vk::PipelineCreateFlags(), stage, p.layout, vk::Pipeline(), 0);
        vk::ResultValue<vk::Pipeline> made =
          device.createComputePipeline(st.cache, pipelineInfo);
        if (made.result != vk::Result::eSuccess) {
            throw std::runtime_error("vkgrad: vkCreateComputePipelines failed: " +
                                     vk::to_string(made.result));
        }
        p.pipeline = made.value;
        st.counters.pipelinesCreated++;
        it = st.pipelines.emplace(std::move(key), p).first;
    } else {
        st.counters.pipelinesReused++;
    }
    const VkgradPipeline& p = it->second;

    // Shared, owned by the device state: this Algorithm must not destroy them.
    this->mShaderModule = std::make_shared<vk::ShaderModule>(p.module);
    this->mFreeShaderModule = false;
    this->mDescriptorSetLayout = std::make_shared<vk::DescriptorSetLayout>(p.setLayout);
    this->mFreeDescriptorSetLayout = false;
    this->mPipelineLayout = std::make_shared<vk::PipelineLayout>(p.layout);
    this->mFreePipelineLayout = false;
    this->mPipeline = std::make_shared<vk::Pipeline>(p.pipeline);
    this->mFreePipeline = false;
    this->mPipelineCache = std::make_shared<vk::PipelineCache>(st.cache);
    this->mFreePipelineCache = false;

    // Owned: a descriptor pool with the one set that binds this Algorithm's buffers.
    vk::DescriptorPoolSize poolSize(vk::DescriptorType::eStorageBuffer,
                                    nBindings ? nBindings : 1);
    vk::DescriptorPoolCreateInfo poolInfo(vk::DescriptorPoolCreateFlags(), 1, 1, &poolSize);
    this->mDescriptorPool =
      std::make_shared<vk::DescriptorPool>(device.createDescriptorPool(poolInfo));
    this->mFreeDescriptorPool = true;
    vk::DescriptorSetAllocateInfo setInfo(*this->mDescriptorPool, 1, &p.setLayout);
    this->mDescriptorSet = std::make_shared<vk::DescriptorSet>();
    (void)device.allocateDescriptorSets(&setInfo, this->mDescriptorSet.get());
    this->mFreeDescriptorSet = true;
    st.counters.descriptorSetsCreated++;

    std::vector<vk::DescriptorBufferInfo> infos;
    infos.reserve(nBindings);
    for (uint32_t i = 0; i < nBindings; i++) {
        infos.push_back(this->mTensors[i]->constructDescriptorBufferInfo());
    }
    std::vector<vk::WriteDescriptorSet> writes;
    for (uint32_t i = 0; i < nBindings; i++) {
        writes.push_back(vk::WriteDescriptorSet(*this->mDescriptorSet, i, 0, 1,
                                                vk::DescriptorType::eStorageBuffer,
                                                nullptr, &infos[i]));
    }
    device.updateDescriptorSets(writes, nullptr);
}

}

// ---------------------------------------------------------------- vkgrad: cooperative matrices
namespace kp {

struct VkgradCoopMatrixProperties
{
    VkStructureType sType = static_cast<VkStructureType>(1000506001);
    void* pNext = nullptr;
    uint32_t MSize, NSize, KSize;
    int32_t AType, BType, CType, ResultType;
    VkBool32 saturatingAccumulation;
    int32_t scope;
};

typedef VkResult(VKAPI_PTR* VkgradCoopPropsFn)(VkPhysicalDevice,
                                                uint32_t*,
                                                VkgradCoopMatrixProperties*);

std::vector<VkgradCoopShape>
vkgradCoopMatrixShapes(const vk::Instance& instance, const vk::PhysicalDevice& device)
{
    std::vector<VkgradCoopShape> out;
    auto fn = reinterpret_cast<VkgradCoopPropsFn>(vkGetInstanceProcAddr(
      static_cast<VkInstance>(instance),
      "vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR"));
    if (fn == nullptr) {
        return out;
    }
    uint32_t count = 0;
    if (fn(static_cast<VkPhysicalDevice>(device), &count, nullptr) != VK_SUCCESS) {
        return out;
    }
    std::vector<VkgradCoopMatrixProperties> props(count);
    if (fn(static_cast<VkPhysicalDevice>(device), &count, props.data()) != VK_SUCCESS) {
        return out;
    }
    for (const VkgradCoopMatrixProperties& p : props) {
        out.push_back({ p.MSize, p.NSize, p.KSize, p.AType, p.BType, p.CType,
                        p.ResultType, p.scope });
    }
    return out;
}

} // namespace kp
"""

BARRIER_OP = """
namespace kp {
// vkgrad: a global memory barrier, recorded by vkgrad only where an op reads or overwrites
// what an earlier op of the batch wrote, or overwrites what it read, and before the host
// reads what the batch wrote.
class OpVkgradBarrier : public OpBase
{
  public:
    void record(const vk::CommandBuffer& commandBuffer) override
    {
        const vk::PipelineStageFlags stages =
          vk::PipelineStageFlagBits::eComputeShader |
          vk::PipelineStageFlagBits::eTransfer;
        // The host is a reader too: a download's copy writes host-visible memory that the
        // host reads once the submit's fence has signalled, and a fence alone does not make
        // device writes visible to the host.
        vk::MemoryBarrier barrier(
          vk::AccessFlagBits::eShaderWrite | vk::AccessFlagBits::eTransferWrite,
          vk::AccessFlagBits::eShaderRead | vk::AccessFlagBits::eShaderWrite |
            vk::AccessFlagBits::eTransferRead |
            vk::AccessFlagBits::eTransferWrite | vk::AccessFlagBits::eHostRead);
        commandBuffer.pipelineBarrier(stages,
                                      stages | vk::PipelineStageFlagBits::eHost,
                                      vk::DependencyFlags(),
                                      barrier,
                                      nullptr,
                                      nullptr);
    }
    void preEval(const vk::CommandBuffer&) override {}
    void postEval(const vk::CommandBuffer&) override {}
};
}

// The manager's device, or an error once the manager was destroyed (no null dereference).
static const vk::Device&
vkgradLiveDevice(kp::Manager& manager)
{
    std::shared_ptr<vk::Device> device = manager.vkgradDevice();
    if (!device) {
        throw std::runtime_error("vkgrad: this kp.Manager's device was destroyed");
    }
    return *device;
}
"""

MANAGER_BINDINGS = """
      .def(
        "vkgrad_stats",
        [](kp::Manager& self) {
            kp::VkgradCounters c = kp::vkgradCounters(vkgradLiveDevice(self));
            return py::dict("pipelines_created"_a = c.pipelinesCreated,
                            "pipelines_reused"_a = c.pipelinesReused,
                            "pipelines_live"_a = c.pipelinesLive,
                            "descriptor_sets_created"_a = c.descriptorSetsCreated,
                            "fences_created"_a = c.fencesCreated,
                            "fences_free"_a = c.fencesFree,
                            "submits"_a = c.submits);
        },
        "vkgrad: this device's pipeline, descriptor-set, fence and submit counters")
      .def(
        "pipeline_cache_data",
        [](kp::Manager& self) {
            return py::bytes(kp::vkgradPipelineCacheData(vkgradLiveDevice(self)));
        },
        "vkgrad: the device's VkPipelineCache contents, to save on disk")
      .def(
        "load_pipeline_cache",
        [](kp::Manager& self, const py::bytes& data) {
            kp::vkgradLoadPipelineCache(vkgradLiveDevice(self), std::string(data));
        },
        "vkgrad: merge saved VkPipelineCache contents into the device's cache")
      .def(
        "vkgrad_features",
        [](kp::Manager& self) {
            return py::dict(
              "storageBuffer16BitAccess"_a = py::make_tuple(self.vkgradHas16BitStorage,
                                                            self.vkgradEnabled16BitStorage),
              "shaderFloat16"_a =
                py::make_tuple(self.vkgradHasFloat16, self.vkgradEnabledFloat16),
              "cooperativeMatrix"_a =
                py::make_tuple(self.vkgradHasCoopMatrix, self.vkgradEnabledCoopMatrix));
        },
        "vkgrad: {feature: (the device has it, it is enabled)}")
      .def(
        "vkgrad_device_info",
        [](kp::Manager& self) {
            py::list shapes;
            for (const kp::VkgradCoopShape& c : self.vkgradCoopShapes) {
                shapes.append(py::dict("m"_a = c.m, "n"_a = c.n, "k"_a = c.k, "a"_a = c.a,
                                       "b"_a = c.b, "c"_a = c.c, "result"_a = c.result,
                                       "scope"_a = c.scope));
            }
            return py::dict("subgroup_size"_a = self.vkgradSubgroupSize,
                            "cooperative_matrix_shapes"_a = shapes);
        },
        "vkgrad: subgroup size and the cooperative-matrix shapes the device lists "
        "(component types and scope as VkComponentTypeKHR / VkScopeKHR numbers)")"""

MGR_DESTROY = '.def("destroy", &kp::Manager::destroy, DOC(kp, Manager, destroy))'
DEVICE_CREATE = """    this->mDevice = std::make_shared<vk::Device>();
    physicalDevice.createDevice(
      &deviceCreateInfo, nullptr, this->mDevice.get());
"""
# Features are asked through vkGetPhysicalDeviceFeatures2 (Vulkan 1.1, kp's instance version)
# and enabled through structs in the device's pNext chain:
# * 16-bit storage (core 1.1): f16 tensors as float16_t arrays;
# * shaderFloat16 (VK_KHR_shader_float16_int8: an extension at instance version 1.1, even on a
#   1.2 device), VK_KHR_cooperative_matrix and VK_KHR_vulkan_memory_model: the matrix-unit
#   GEMM, whose operands are float16_t values in registers, not only in memory, and whose
#   SPIR-V glslang always writes for the Vulkan memory model.
# The cooperative-matrix types are declared here by hand: Debian's Vulkan headers (1.3.239)
# predate the extension (1.3.255). Their layout and sType values are the registry's.
# If the device refuses the chain with float16 arithmetic (and cooperative matrices), it is
# created again with 16-bit storage alone, so a driver that lists an extension it cannot
# enable still gets a device.
FEATURES = """    // vkgrad: device features: 16-bit storage, float16 arithmetic, matrix units.
    std::set<std::string> vkgradExts;
    for (const vk::ExtensionProperties& ext :
         physicalDevice.enumerateDeviceExtensionProperties()) {
        vkgradExts.insert(ext.extensionName);
    }
    bool vkgradHasF16Ext = vkgradExts.count("VK_KHR_shader_float16_int8") != 0;
    bool vkgradHasCoopExt = vkgradExts.count("VK_KHR_cooperative_matrix") != 0 &&
                            vkgradExts.count("VK_KHR_vulkan_memory_model") != 0;
    vk::PhysicalDevice16BitStorageFeatures vkgradHas16;
    vk::PhysicalDeviceShaderFloat16Int8Features vkgradHasF16;
    kp::VkgradCoopMatrixFeatures vkgradHasCoop;
    vk::PhysicalDeviceVulkanMemoryModelFeatures vkgradHasVmm;
    vk::PhysicalDeviceFeatures2 vkgradFeatures2;
    vkgradFeatures2.pNext = &vkgradHas16;
    if (vkgradHasF16Ext) {
        vkgradHasF16.pNext = vkgradFeatures2.pNext;
        vkgradFeatures2.pNext = &vkgradHasF16;
    }
    if (vkgradHasCoopExt) {
        vkgradHasCoop.pNext = vkgradFeatures2.pNext;
        vkgradHasVmm.pNext = &vkgradHasCoop;
        vkgradFeatures2.pNext = &vkgradHasVmm;
    }
    vk::PhysicalDeviceSubgroupProperties vkgradSubgroup;
    vk::PhysicalDeviceProperties2 vkgradProps2;
    vkgradProps2.pNext = &vkgradSubgroup;
    if (physicalDevice.getProperties().apiVersion >= VK_API_VERSION_1_1) {
        physicalDevice.getFeatures2(&vkgradFeatures2);
        physicalDevice.getProperties2(&vkgradProps2);
        this->vkgradSubgroupSize = vkgradSubgroup.subgroupSize;
    }
    this->vkgradHas16BitStorage = vkgradHas16.storageBuffer16BitAccess == VK_TRUE;
    this->vkgradHasFloat16 = vkgradHasF16Ext && vkgradHasF16.shaderFloat16 == VK_TRUE;
    this->vkgradHasCoopMatrix = vkgradHasCoopExt && vkgradHasCoop.cooperativeMatrix == VK_TRUE &&
                                vkgradHasVmm.vulkanMemoryModel == VK_TRUE;
    if (this->vkgradHasCoopMatrix) {
        this->vkgradCoopShapes = kp::vkgradCoopMatrixShapes(*this->mInstance, physicalDevice);
    }
    bool vkgradWant16 = std::getenv("VKGRAD_F16_PACKED") == nullptr ||
                        std::string(std::getenv("VKGRAD_F16_PACKED")) != "1";
    bool vkgradWantCoop = std::getenv("VKGRAD_COOPMAT") == nullptr ||
                          std::string(std::getenv("VKGRAD_COOPMAT")) != "0";
    // What is enabled: 16-bit storage (the native-f16 kernels), float16 arithmetic with it,
    // and cooperative matrices on top of both (the matrix-unit GEMM needs all three).
    vk::PhysicalDevice16BitStorageFeatures vkgradEnable16;
    vk::PhysicalDeviceShaderFloat16Int8Features vkgradEnableF16;
    kp::VkgradCoopMatrixFeatures vkgradEnableCoop;
    vk::PhysicalDeviceVulkanMemoryModelFeatures vkgradEnableVmm;
    std::vector<const char*> vkgradExtensions(validExtensions);
    this->vkgradEnabled16BitStorage = this->vkgradHas16BitStorage && vkgradWant16;
    bool vkgradF16 = this->vkgradEnabled16BitStorage && this->vkgradHasFloat16;
    bool vkgradCoop = vkgradF16 && this->vkgradHasCoopMatrix && vkgradWantCoop;
    if (this->vkgradEnabled16BitStorage) {
        vkgradEnable16.storageBuffer16BitAccess = VK_TRUE;
        deviceCreateInfo.pNext = &vkgradEnable16;
    }
    if (vkgradF16) {
        vkgradEnableF16.shaderFloat16 = VK_TRUE;
        vkgradEnable16.pNext = &vkgradEnableF16;
        vkgradExtensions.push_back("VK_KHR_shader_float16_int8");
    }
    if (vkgradCoop) {
        vkgradEnableCoop.cooperativeMatrix = VK_TRUE;
        vkgradEnableVmm.vulkanMemoryModel = VK_TRUE;
        vkgradEnableF16.pNext = &vkgradEnableVmm;
        vkgradEnableVmm.pNext = &vkgradEnableCoop;
        vkgradExtensions.push_back("VK_KHR_vulkan_memory_model");
        vkgradExtensions.push_back("VK_KHR_cooperative_matrix");
    }
    deviceCreateInfo.setPEnabledExtensionNames(vkgradExtensions);
    this->mDevice = std::make_shared<vk::Device>();
    vk::Result vkgradCreated = physicalDevice.createDevice(
      &deviceCreateInfo, nullptr, this->mDevice.get());
    if (vkgradCreated != vk::Result::eSuccess && vkgradF16) {
        KP_LOG_WARN("vkgrad: device creation with float16 arithmetic and cooperative "
                    "matrices failed ({}); creating it without them",
                    vk::to_string(vkgradCreated));
        vkgradF16 = vkgradCoop = false;
        vkgradEnable16.pNext = nullptr;
        deviceCreateInfo.setPEnabledExtensionNames(validExtensions);
        vkgradCreated = physicalDevice.createDevice(
          &deviceCreateInfo, nullptr, this->mDevice.get());
    }
    if (vkgradCreated != vk::Result::eSuccess) {
        throw std::runtime_error("vkCreateDevice failed: " + vk::to_string(vkgradCreated));
    }
    this->vkgradEnabledFloat16 = vkgradF16;
    this->vkgradEnabledCoopMatrix = vkgradCoop;
"""
DEFAULT_LAYERS = """    std::vector<const char*> desiredLayerNames = {
        "VK_LAYER_LUNARG_assistant_layer",
        "VK_LAYER_LUNARG_standard_validation",
        "VK_LAYER_KHRONOS_validation",
    };
"""
FENCE_WAIT_END = """    this->mDevice->destroy(
      this->mFence, (vk::Optional<const vk::AllocationCallbacks>)nullptr);

    this->mIsRunning = false;
"""
CREATE_INSTANCE = """    vk::createInstance(
      &computeInstanceCreateInfo, nullptr, this->mInstance.get());
"""
# Without a driver the loader fails here: raise, instead of going on with a null instance.
CHECKED_CREATE_INSTANCE = """    // vkgrad: a failed instance is an error.
    vk::Result vkgradInstanceResult = vk::createInstance(
      &computeInstanceCreateInfo, nullptr, this->mInstance.get());
    if (vkgradInstanceResult != vk::Result::eSuccess) {
        this->mInstance = nullptr;
        throw std::runtime_error("vkCreateInstance failed: " +
                                 vk::to_string(vkgradInstanceResult) +
                                 " (no usable Vulkan driver)");
    }
"""
REBUILD_CALLS = """        this->createParameters();
        this->createShaderModule();
        this->createPipeline();
"""

# (file, old text, new text): each old text occurs exactly once in kp 0.9.0; old None appends.
PATCHES = [
    ("setup.py", COMMA_BUG, COMMA_BUG.replace("'\n", "',\n")),
    ("setup.py", '"numpy<2.0.0"', '"numpy"'),
    ("src/Manager.cpp", CREATE_INSTANCE, CHECKED_CREATE_INSTANCE),
    # Shared pipelines.
    (
        "src/include/kompute/Algorithm.hpp",
        '#include "logger/Logger.hpp"\n\nnamespace kp {\n',
        '#include "logger/Logger.hpp"\n\n#include <mutex>\n#include <string>\n'
        "#include <unordered_map>\n\n" + SHARED_DECLS + "}\n\nnamespace kp {\n",
    ),
    (
        "src/include/kompute/Algorithm.hpp",
        REBUILD_CALLS,
        "        // vkgrad: the shared pipeline of the variant, and a descriptor set.\n"
        "        this->vkgradCreate();\n",
    ),
    (
        "src/include/kompute/Algorithm.hpp",
        "    void createParameters();\n",
        "    void createParameters();\n    void vkgradCreate();\n",
    ),
    ("src/Algorithm.cpp", None, SHARED_DEFS),
    (
        "src/include/kompute/Manager.hpp",
        "    std::shared_ptr<vk::Instance> getVkInstance() const;\n",
        "    std::shared_ptr<vk::Instance> getVkInstance() const;\n\n"
        "    // vkgrad: the device, for the shared pipeline state.\n"
        "    std::shared_ptr<vk::Device> vkgradDevice() const { return this->mDevice; }\n",
    ),
    (
        "src/Manager.cpp",
        "    if (this->mFreeDevice) {\n",
        "    if (this->mFreeDevice) {\n        kp::vkgradReleaseDevice(*this->mDevice);\n",
    ),
    (
        "src/Manager.cpp",
        DEFAULT_LAYERS,
        "    // vkgrad: no layer unless asked for (VK_INSTANCE_LAYERS, KOMPUTE_ENV_DEBUG_LAYERS).\n"
        "    std::vector<const char*> desiredLayerNames;\n",
    ),
    # Fences from a per-device free list.
    (
        "src/Sequence.cpp",
        "    this->mFence = this->mDevice->createFence(vk::FenceCreateInfo());\n",
        "    this->mFence = kp::vkgradAcquireFence(*this->mDevice);\n",
    ),
    (
        "src/Sequence.cpp",
        FENCE_WAIT_END,
        "    if (result == vk::Result::eTimeout) {\n"
        "        // Still pending: never hand it out again (kp destroyed it here).\n"
        "        this->mDevice->destroy(\n"
        "          this->mFence, (vk::Optional<const vk::AllocationCallbacks>)nullptr);\n"
        "    } else {\n"
        "        kp::vkgradReleaseFence(*this->mDevice, this->mFence);\n"
        "    }\n\n"
        "    this->mIsRunning = false;\n",
    ),
    # 16-bit storage: f16 tensors as float16_t arrays where the device has it.
    (
        "src/include/kompute/Manager.hpp",
        "    std::shared_ptr<vk::Device> vkgradDevice() const { return this->mDevice; }\n",
        "    std::shared_ptr<vk::Device> vkgradDevice() const { return this->mDevice; }\n"
        "    // vkgrad: device features, as found on the physical device and as enabled.\n"
        "    bool vkgradHas16BitStorage = false;\n"
        "    bool vkgradEnabled16BitStorage = false;\n"
        "    bool vkgradHasFloat16 = false;\n"
        "    bool vkgradEnabledFloat16 = false;\n"
        "    bool vkgradHasCoopMatrix = false;\n"
        "    bool vkgradEnabledCoopMatrix = false;\n"
        "    uint32_t vkgradSubgroupSize = 0;\n"
        "    std::vector<kp::VkgradCoopShape> vkgradCoopShapes;\n",
    ),
    ("src/Manager.cpp", "#include <string>\n", "#include <cstdlib>\n#include <string>\n"),
    ("src/Manager.cpp", DEVICE_CREATE, FEATURES),
    # Python: barrier op, counters, pipeline cache, device properties, build marker.
    ("python/src/main.cpp", '#include "utils.hpp"\n', '#include "utils.hpp"\n' + BARRIER_OP),
    (
        "python/src/main.cpp",
        "    py::class_<kp::OpTensorCopy, kp::OpBase, std::shared_ptr<kp::OpTensorCopy>>(\n",
        "    py::class_<kp::OpVkgradBarrier,\n"
        "               kp::OpBase,\n"
        "               std::shared_ptr<kp::OpVkgradBarrier>>(\n"
        '      m, "OpVkgradBarrier", "vkgrad: global compute|transfer memory barrier")\n'
        "      .def(py::init<>());\n\n"
        "    py::class_<kp::OpTensorCopy, kp::OpBase, std::shared_ptr<kp::OpTensorCopy>>(\n",
    ),
    ("python/src/main.cpp", MGR_DESTROY, MGR_DESTROY + MANAGER_BINDINGS),
    (
        "python/src/utils.hpp",
        '      "device_name"_a = deviceName,\n',
        '      "device_name"_a = deviceName,\n'
        '      "device_type"_a = static_cast<int>(properties.deviceType),\n'
        '      "max_push_constants_size"_a = properties.limits.maxPushConstantsSize,\n'
        '      "timestamp_period"_a = properties.limits.timestampPeriod,\n'
        '      "driver_version"_a = properties.driverVersion,\n'
        '      "vendor_id"_a = properties.vendorID,\n'
        '      "device_id"_a = properties.deviceID,\n',
    ),
    (
        "python/src/main.cpp",
        "#ifdef VERSION_INFO\n",
        '    m.attr("vkgrad_barriers") = 2;\n#ifdef VERSION_INFO\n',
    ),
]


class PatchError(RuntimeError):
    """The source tree is not the kp 0.9.0 this patch was written for."""


def apply(root: str | pathlib.Path) -> list[str]:
    """Patch the kp source tree at ``root`` in place; return the files changed.

    Patching a tree twice changes nothing the second time.
    """
    base = pathlib.Path(root)
    changed = []
    for rel, old, new in PATCHES:
        path = base / rel
        if not path.is_file():
            raise PatchError(f"kp patch: {rel} not found under {base}; is this kp 0.9.0?")
        text = path.read_text()
        if new in text:
            continue
        if old is None:
            text += new
        elif text.count(old) != 1:
            raise PatchError(
                f"kp patch: expected this text once in {rel}, found it "
                f"{text.count(old)} times; is this kp 0.9.0?\n{old}"
            )
        else:
            text = text.replace(old, new)
        path.write_text(text)
        if rel not in changed:
            changed.append(rel)
    return changed


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m vkgrad.kp_build.patch KP_SOURCE_DIR", file=sys.stderr)
        return 2
    try:
        for rel in apply(args[0]):
            print(f"kp patch: patched {rel}")
    except PatchError as e:
        print(e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
