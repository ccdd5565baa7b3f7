using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Onnx;

/// <summary>
/// An engine that runs ONNX models, as the layers beneath the engine use one: calibration runs a model through it and
/// the compressor checks a graph with it, without naming the engine. The library's entry points pass the native engine
/// (<c>Runtime.NativeEngine</c>).
/// </summary>
internal interface IOnnxEngine
{
    /// <summary>A runnable model.</summary>
    /// <exception cref="DirNetException">The graph cannot run (an <see cref="OnnxGraphException"/> or <see cref="OnnxFormatException"/>),
    /// or the engine lacks one of its operators.</exception>
    ITensorModel Load(OnnxModel model);

    /// <summary>
    /// A runnable model whose every run reports the nodes <paramref name="observer"/> observes, in the main graph and
    /// inside subgraphs, as they run.
    /// </summary>
    /// <exception cref="DirNetException">As <see cref="Load(OnnxModel)"/>.</exception>
    ITensorModel Load(OnnxModel model, INodeObserver observer);

    /// <summary>
    /// Checks that a graph can run as the engine checks it (no cycle, every value produced, initializer data that fits its
    /// shape, valid attributes); operators the engine lacks are no failure here, since another runtime may run them.
    /// </summary>
    /// <exception cref="OnnxGraphException">The graph cannot run.</exception>
    /// <exception cref="OnnxFormatException">An initializer or attribute is malformed.</exception>
    void CheckGraph(OnnxModel model);
}
