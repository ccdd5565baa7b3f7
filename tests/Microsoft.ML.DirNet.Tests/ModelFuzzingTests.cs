using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Evaluation;
using Microsoft.ML.DirNet.Onnx.Protobuf;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;
using Microsoft.ML.DirNet.Weights;
using Xunit.Abstractions;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// A mutation fuzzer over the committed fixtures, compressed models made from one (float32 and int8 factors) and the
/// fixtures' input tensor files: bit flips, byte insertions and deletions, truncations, and swapped or duplicated byte
/// ranges (which move whole protobuf fields). Each mutant model is parsed, searched for compressible weights, loaded
/// natively and run on the fixture's inputs (and, where that works, compressed and run again); each mutant tensor file
/// is read as calibration inputs and run. The only allowed outcomes are a <see cref="DirNetException"/> or a successful
/// run. A fixed, seeded number of iterations runs here; <c>DIRNET_FUZZ_ITERATIONS</c> and <c>DIRNET_FUZZ_SEED</c> make
/// a longer run (<c>build/fuzz.sh</c>).
/// </summary>
public sealed class ModelFuzzingTests(ITestOutputHelper output)
{
    private static int Iterations => int.TryParse(Environment.GetEnvironmentVariable("DIRNET_FUZZ_ITERATIONS"), out var n) ? n : 600;

    private static int Seed => int.TryParse(Environment.GetEnvironmentVariable("DIRNET_FUZZ_SEED"), out var s) ? s : 20261123;

    private sealed record Seedling(string Name, byte[] Bytes, Tensor[] Inputs);

    private static IReadOnlyList<Seedling> Seedlings()
    {
        var seedlings = Directory.GetDirectories(TestPaths.Fixtures).Order()
            .Where(dir => File.Exists(Path.Combine(dir, "model.onnx")))
            .Select(dir => new Seedling(Path.GetFileName(dir), File.ReadAllBytes(Path.Combine(dir, "model.onnx")),
                TensorFile.ReadSeries(Path.Combine(dir, "test_data_set_0"), "input")))
            .ToList();
        var lm = seedlings.First(s => s.Name == "lm_embedding_lstm_linear");
        seedlings.AddRange(CompressedSeedlings.Of(lm.Bytes).Select(c => lm with { Name = c.Name, Bytes = c.Bytes }));

        return seedlings;
    }

    [Fact]
    public void MutatedModelsFailWithAClearErrorOrRun()
    {
        var seedlings = Seedlings();
        Fuzz("models", random =>
        {
            var seedling = seedlings[random.Next(seedlings.Count)];
            var (mutant, mutation) = Mutate(seedling.Bytes, random);
            return ($"{seedling.Name}, {mutation}", mutant, () => Exercise(mutant, seedling.Inputs));
        });
    }

    /// <summary>
    /// The tensor files that <c>dirnet run --data</c> and calibration folders read: one input file of a fixture's
    /// test set is mutated, the folder read as calibration inputs, the model run on them and statistics captured.
    /// </summary>
    [Fact]
    public void MutatedTensorFilesFailWithAClearErrorOrRun()
    {
        var fixtures = Directory.GetDirectories(TestPaths.Fixtures).Order()
            .Where(dir => File.Exists(Path.Combine(dir, "model.onnx")))
            .Select(dir => (Model: OnnxModel.Load(Path.Combine(dir, "model.onnx")), Inputs: Directory.GetFiles(Path.Combine(dir, "test_data_set_0"), "input_*.pb").Order().ToArray()))
            .ToList();
        var folder = TestPaths.NewTemporaryFolder();
        Fuzz("tensor files", random =>
        {
            var (model, inputs) = fixtures[random.Next(fixtures.Count)];
            var target = random.Next(inputs.Length);
            var (mutant, mutation) = Mutate(File.ReadAllBytes(inputs[target]), random);
            foreach (var stale in Directory.GetFiles(folder))
            {
                File.Delete(stale);
            }

            for (var k = 0; k < inputs.Length; k++)
            {
                File.WriteAllBytes(Path.Combine(folder, Path.GetFileName(inputs[k])), k == target ? mutant : File.ReadAllBytes(inputs[k]));
            }

            return ($"{Path.GetFileName(inputs[target])} of {model.Graph.Name}, {mutation}", mutant, () =>
            {
                var sets = CalibrationInputs.FromFolder(folder);
                new NativeModel(model).Run(sets[0]);
                CalibrationStatistics.Capture(model, sets);
            });
        });
    }

    /// <summary>
    /// Runs <see cref="Iterations"/> mutants made by <paramref name="next"/> (a description, the mutant's bytes and
    /// what to do with them); fails listing the first few that escaped with anything but a <see cref="DirNetException"/>.
    /// </summary>
    private void Fuzz(string what, Func<Random, (string Mutation, byte[] Mutant, Action Exercise)> next)
    {
        var random = new Random(Seed);
        var failures = new List<string>();
        int rejected = 0, ran = 0;
        for (var iteration = 0; iteration < Iterations; iteration++)
        {
            var (mutation, mutant, exercise) = next(random);
            try
            {
                exercise();
                ran++;
            }
            catch (DirNetException)
            {
                rejected++;
            }
            catch (Exception error)
            {
                var saved = Path.Combine(TestPaths.NewTemporaryFolder(), $"fuzz-{iteration}.bin");
                File.WriteAllBytes(saved, mutant);
                failures.Add($"iteration {iteration} ({mutation}; saved to {saved}): {error.GetType().Name}: {error.Message}\n{error.StackTrace}");
            }
        }

        output.WriteLine($"{Iterations} mutated {what} (seed {Seed}): {rejected} rejected with a clear error, {ran} ran, {failures.Count} escaped");
        Assert.True(failures.Count == 0, $"{failures.Count} of {Iterations} mutated {what} escaped with another exception (seed {Seed}):\n" + string.Join("\n\n", failures.Take(5)));
        Assert.Equal(Iterations, rejected + ran);
        Assert.True(rejected > 0 && ran > 0, $"{rejected} rejected, {ran} ran: the mutations should give both");
    }

    /// <summary>
    /// What a user does with a model: read it, find its weights, load it natively, run it; and where all that worked,
    /// compress it (low-rank, the quickest method) and load the compressed file back.
    /// </summary>
    private static void Exercise(byte[] bytes, Tensor[] inputs)
    {
        var model = OnnxModel.Parse(bytes, "fuzzed.onnx");
        WeightFinder.FindWeights(model);
        new NativeModel(model).Run(inputs);
        if (!model.Metadata.ContainsKey(Export.CompressionMetadata.Key))
        {
            var compressed = RnnCompressor.Compress(model, new CompressionOptions { KeepDenseWhereItDoesNotPay = false, Method = CompressionMethod.LowRank, Ratio = 2, Scope = CompressionScope.Recurrent });
            new NativeModel(OnnxModel.Parse(compressed.ToCompressedModel().ToBytes(), "fuzzed-compressed.onnx")).Run(inputs);
        }
    }

    private static (byte[] Bytes, string Mutation) Mutate(byte[] original, Random random)
    {
        var bytes = (byte[])original.Clone();
        var at = random.Next(bytes.Length);
        switch (random.Next(6))
        {
            case 0:
                var flips = 1 + random.Next(8);
                for (var i = 0; i < flips; i++)
                {
                    var position = random.Next(bytes.Length);
                    bytes[position] ^= (byte)(1 << random.Next(8));
                }

                return (bytes, $"{flips} bit flips");
            case 1:
                var inserted = new byte[1 + random.Next(16)];
                random.NextBytes(inserted);
                return ([.. bytes[..at], .. inserted, .. bytes[at..]], $"{inserted.Length} bytes inserted at {at}");
            case 2:
                var deleted = Math.Min(1 + random.Next(32), bytes.Length - at);
                return ([.. bytes[..at], .. bytes[(at + deleted)..]], $"{deleted} bytes deleted at {at}");
            case 3:
                return (bytes[..at], $"truncated to {at} bytes");
            case 4:
                var length = 1 + random.Next(Math.Min(256, bytes.Length / 2));
                int first = random.Next(bytes.Length - length), second = random.Next(bytes.Length - length);
                var copy = bytes[first..(first + length)];
                Array.Copy(bytes, second, bytes, first, length);
                copy.CopyTo(bytes, second);
                return (bytes, $"{length} bytes at {first} and {second} swapped");
            default:
                var run = Math.Min(1 + random.Next(64), bytes.Length - at);
                return ([.. bytes[..at], .. bytes[at..(at + run)], .. bytes[at..]], $"{run} bytes at {at} duplicated");
        }
    }

    // Regression tests for what the fuzzer found (2026-11-23: 700,000 mutants over four seeds, before the fixes).

    [Fact]
    public void TensorAttributeWithoutItsTensorIsRefused()
    {
        // Found as a NullReferenceException: bit flips turned a Constant's 'value' into a tensor attribute with no tensor.
        var constant = new NodeProto { OpType = "Constant", Name = "c" };
        constant.Output.Add("y");
        constant.Attribute.Add(new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor });
        var error = Assert.Throws<OnnxGraphException>(() => new NativeModel(SingleNodeModel.Build(constant, [], ["y"])));
        Assert.Contains("'value'", error.Message);
        Assert.Contains("holds none", error.Message);
    }

    [Fact]
    public void ConstantOfShapeRefusesHugeShapesBeforeAllocating()
    {
        // Found as an OverflowException after allocating 2.4 GB: a flipped bit made a shape of 600 M floats.
        var fill = new NodeProto { OpType = "ConstantOfShape", Name = "fill" };
        fill.Input.Add("shape");
        fill.Output.Add("y");
        var model = new NativeModel(SingleNodeModel.Build(fill, [("shape", TensorElementType.Int64)], ["y"]));
        var before = GC.GetAllocatedBytesForCurrentThread();
        foreach (var shape in new long[][] { [600_000_000], [1 << 20, 1 << 20, 1 << 20], [-3, 2] })
        {
            var error = Assert.Throws<ModelExecutionException>(() => model.Run(new Tensor<long>([shape.Length], shape)));
            Assert.Contains("fill", error.Message);
        }

        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20, "refused before allocating the tensor");
        Assert.Equal([2, 3], model.Run(new Tensor<long>([2], [2, 3]))[0].Shape);
    }
}
