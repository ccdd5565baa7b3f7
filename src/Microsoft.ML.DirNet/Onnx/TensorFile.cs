using Google.Protobuf;
using Microsoft.ML.DirNet.Numerics;
using Microsoft.ML.DirNet.Onnx.Protobuf;
using Microsoft.ML.DirNet.Tensors;

namespace Microsoft.ML.DirNet.Onnx;

/// <summary>
/// Reads and writes single serialized ONNX TensorProto files (<c>.pb</c>), the format of the ONNX backend tests'
/// <c>input_K.pb</c> / <c>output_K.pb</c>.
/// </summary>
public static class TensorFile
{
    /// <summary>Reads a tensor file.</summary>
    /// <exception cref="OnnxFormatException">The file is missing, not a regular file (a FIFO or device is refused
    /// before reading), larger than 2 GiB, or not a tensor of a supported type.</exception>
    public static Tensor Read(string path)
    {
        try
        {
            var bytes = SafeFile.ReadProtobuf(path, problem => new OnnxFormatException(path, $"not a readable tensor file: it {problem}."));
            return TensorProtoConverter.ToTensor(TensorProto.Parser.ParseFrom(bytes));
        }
        catch (Exception e) when (e is InvalidProtocolBufferException or ArgumentException or IOException)
        {
            throw new OnnxFormatException(path, $"not a readable tensor file: {e.Message}", e);
        }
    }

    /// <summary>Writes a tensor file (atomically).</summary>
    public static void Write(string path, Tensor tensor, string name = "") =>
        AtomicFile.Write(path, stream => TensorProtoConverter.ToProto(name, tensor).WriteTo(stream));

    /// <summary>
    /// Reads the files <c>{prefix}_0.pb</c>, <c>{prefix}_1.pb</c>, ... of a backend-test data folder, in order,
    /// stopping at the first missing index.
    /// </summary>
    public static Tensor[] ReadSeries(string directory, string prefix)
    {
        var tensors = new List<Tensor>();
        for (var k = 0; File.Exists(Path.Combine(directory, $"{prefix}_{k}.pb")); k++)
        {
            tensors.Add(Read(Path.Combine(directory, $"{prefix}_{k}.pb")));
        }

        return tensors.ToArray();
    }
}
