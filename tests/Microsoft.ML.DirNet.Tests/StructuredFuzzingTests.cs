using System.Diagnostics;
using System.Security.Cryptography;
using Google.Protobuf;
using Microsoft.ML.DirNet.Compression;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Onnx.Protobuf;
using Microsoft.ML.DirNet.Runtime;
using Microsoft.ML.DirNet.Tensors;
using Microsoft.ML.DirNet.Weights;
using Xunit.Abstractions;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// A structure-aware mutation fuzzer: each seed model (the committed fixtures, and compressed models made from one) is
/// parsed into a <see cref="ModelProto"/> and changed through its fields by <see cref="OnnxFieldMutator"/> (1–3
/// mutations a mutant: dims, data types, stored data, attributes, node wiring, op types, names, graph inputs and outputs,
/// initializers, opset), where <see cref="ModelFuzzingTests"/> flips bytes. Each mutant is parsed, searched for weights,
/// loaded natively and run on the fixture's inputs; where that works, compressed (ratio 2, one method) and run, and
/// compressed again with calibration captured from the same inputs (another method) and run. The only allowed outcomes
/// are a <see cref="DirNetException"/> or a successful run; an exception of any other type, a mutant that runs past
/// the time limit, or one that makes the library allocate more than 1 GiB on its thread is a finding. Findings are
/// grouped by exception type and top library frame, and one mutant per group is saved (under
/// <c>DIRNET_FUZZ_FINDINGS</c> when set, else a temporary folder). Rejections whose cause is an internal error (an
/// IndexOutOfRangeException or OverflowException the engine wrapped in a DirNetException) are listed the same way, in
/// <c>wrapped/</c>, without failing the test. <c>DIRNET_FUZZ_SEED</c> and
/// <c>DIRNET_FUZZ_ITERATIONS</c> make a longer run (<c>build/fuzz.sh</c>); the same seed gives the same mutants.
/// </summary>
public sealed class StructuredFuzzingTests(ITestOutputHelper output)
{
    private static int Iterations => int.TryParse(Environment.GetEnvironmentVariable("DIRNET_FUZZ_ITERATIONS"), out var n) ? n : 1000;

    private static int Seed => int.TryParse(Environment.GetEnvironmentVariable("DIRNET_FUZZ_SEED"), out var s) ? s : 20261201;

    /// <summary>A mutant still running after this long is a finding (DIRNET_FUZZ_TIMEOUT_SECONDS, default 10).</summary>
    private static TimeSpan TimeLimit => TimeSpan.FromSeconds(double.TryParse(Environment.GetEnvironmentVariable("DIRNET_FUZZ_TIMEOUT_SECONDS"), out var t) ? t : 10);

    /// <summary>More allocated than this on the exercising thread is a finding: no fixture needs near it.</summary>
    private const long AllocationLimit = 1L << 30;

    /// <summary>Hung mutants keep their threads (they cannot be aborted), so the run stops after this many.</summary>
    private const int MaxTimeouts = 3;

    /// <summary>The compressions a mutant gets: one plain, one with calibration.</summary>
    private static readonly (CompressionMethod Plain, CompressionMethod Calibrated, CompressionScope Scope)[] Exercises =
    [
        (CompressionMethod.LowRank, CompressionMethod.Hmd, CompressionScope.Recurrent),
        (CompressionMethod.Prune, CompressionMethod.LowRank, CompressionScope.Model),
        (CompressionMethod.Hmd, CompressionMethod.Prune, CompressionScope.Model),
    ];

    private sealed record Seedling(string Name, ModelProto Proto, Tensor[] Inputs);

    private static IReadOnlyList<Seedling> Seedlings()
    {
        var seedlings = Directory.GetDirectories(TestPaths.Fixtures).Order()
            .Where(dir => File.Exists(Path.Combine(dir, "model.onnx")))
            .Select(dir => new Seedling(Path.GetFileName(dir), ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(dir, "model.onnx"))),
                TensorFile.ReadSeries(Path.Combine(dir, "test_data_set_0"), "input")))
            .ToList();
        var lm = seedlings.First(s => s.Name == "lm_embedding_lstm_linear");
        seedlings.AddRange(CompressedSeedlings.Of(lm.Proto.ToByteArray()).Select(c => lm with { Name = c.Name, Proto = ModelProto.Parser.ParseFrom(c.Bytes) }));

        return seedlings;
    }

    [Fact]
    public void StructurallyMutatedModelsFailWithAClearErrorOrRun()
    {
        var seedlings = Seedlings();
        var random = new Random(Seed);
        var mutator = new OnnxFieldMutator(random);
        var folder = Environment.GetEnvironmentVariable("DIRNET_FUZZ_FINDINGS") is { Length: > 0 } chosen
            ? Path.Combine(chosen, $"seed-{Seed}")
            : TestPaths.NewTemporaryFolder();
        Directory.CreateDirectory(folder);
        var findings = new FuzzFindings(folder);
        var wrapped = new FuzzFindings(Path.Combine(folder, "wrapped"));

        // Written before each exercise: if a mutant takes the whole process down (a stack overflow), it is here.
        var inFlight = Path.Combine(folder, "in-flight");
        int rejected = 0, ran = 0, timeouts = 0, iteration = 0;
        var times = new List<(double Milliseconds, string Mutation)>();
        long mostAllocated = 0;
        var rejectedAt = new Dictionary<string, int>();
        var clock = Stopwatch.StartNew();
        for (; iteration < Iterations && timeouts < MaxTimeouts; iteration++)
        {
            var seedling = seedlings[random.Next(seedlings.Count)];
            var (mutant, mutation) = mutator.Mutate(seedling.Proto);
            var exercise = Exercises[random.Next(Exercises.Length)];
            var description = $"iteration {iteration}, {seedling.Name}: {mutation} [then {exercise.Plain}, {exercise.Calibrated} calibrated, {exercise.Scope}]";
            var bytes = mutant.ToByteArray();
            File.WriteAllBytes(inFlight + ".onnx", bytes);
            File.WriteAllText(inFlight + ".txt", description);

            var outcome = Guarded((reached, token) => Exercise(bytes, seedling.Inputs, exercise, reached, token));
            times.Add((outcome.Elapsed.TotalMilliseconds, description));
            mostAllocated = Math.Max(mostAllocated, outcome.Allocated);
            if (outcome.TimedOut)
            {
                timeouts++;
                findings.AddGuard($"Timeout (over {TimeLimit.TotalSeconds:0} s) in {outcome.Stage}", description, bytes, $"The exercise was still running at the time limit, in stage '{outcome.Stage}'.");
                continue;
            }

            if (outcome.Allocated > AllocationLimit)
            {
                findings.AddGuard($"Allocation over {AllocationLimit >> 30} GiB", description, bytes,
                    $"{outcome.Allocated / (1 << 20)} MiB allocated; outcome {outcome.Error?.GetType().FullName ?? "success"}: {outcome.Error?.Message}\n{outcome.Error?.StackTrace}");
            }

            switch (outcome.Error)
            {
                case null:
                    ran++;
                    break;
                case DirNetException clear:
                    rejected++;
                    rejectedAt[outcome.Stage] = rejectedAt.GetValueOrDefault(outcome.Stage) + 1;
                    if (InternalCause(clear) is { } cause)
                    {
                        wrapped.AddException(cause, description, bytes);
                    }

                    break;
                default:
                    findings.AddException(outcome.Error, description, bytes);
                    break;
            }
        }

        File.Delete(inFlight + ".onnx");
        File.Delete(inFlight + ".txt");
        var sorted = times.Select(t => t.Milliseconds).Order().ToArray();
        var slowest = times.MaxBy(t => t.Milliseconds);
        output.WriteLine($"{iteration} structurally mutated models (seed {Seed}) in {clock.Elapsed.TotalSeconds:0.0} s: {rejected} rejected with a clear error, {ran} ran, " +
            $"{findings.Total} findings in {findings.Groups.Count} groups{(timeouts >= MaxTimeouts ? $" (stopped after {timeouts} time-outs)" : "")}");
        output.WriteLine($"per mutant: mean {sorted.Average():0.0} ms, median {sorted[sorted.Length / 2]:0.0} ms, p99 {sorted[(int)(sorted.Length * 0.99)]:0.0} ms, " +
            $"max {slowest.Milliseconds:0} ms ({slowest.Mutation}); most allocated by one mutant {mostAllocated / (1 << 20)} MiB");
        output.WriteLine($"rejected at: {string.Join(", ", rejectedAt.OrderByDescending(p => p.Value).Select(p => $"{p.Key} {p.Value}"))}");
        output.WriteLine($"mutations applied: {string.Join(", ", mutator.Applied.OrderByDescending(p => p.Value).Select(p => $"{p.Key} {p.Value}"))}");
        output.WriteLine(findings.Summary());
        if (wrapped.Total > 0)
        {
            // Allowed (the outcome is a DirNetException), but its cause is an internal error the engine wrapped: listed, not failed.
            output.WriteLine($"{wrapped.Total} rejections wrap an internal error ({wrapped.Groups.Count} groups, saved under {wrapped.Folder}):\n{wrapped.Summary()}");
        }

        Assert.True(findings.Total == 0, $"{findings.Total} of {iteration} structurally mutated models escaped (seed {Seed}), in {findings.Groups.Count} groups " +
            $"(mutants saved under {folder}):\n{findings.Summary()}");
        Assert.True(rejected > 0 && ran > 0, $"{rejected} rejected, {ran} ran: the mutations should give both");
    }

    [Fact]
    public void TheSameSeedGivesTheSameMutantsAndLeavesTheSeedModelAlone()
    {
        var seed = ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(TestPaths.Fixtures, "lstm_1layer", "model.onnx")));
        var original = seed.ToByteArray();
        string[] Mutants(int s)
        {
            var mutator = new OnnxFieldMutator(new Random(s));
            return [.. Enumerable.Range(0, 200).Select(_ => mutator.Mutate(seed)).Select(m => $"{m.Mutation} {Convert.ToHexString(SHA256.HashData(m.Mutant.ToByteArray()))}")];
        }

        Assert.Equal(Mutants(7), Mutants(7));
        Assert.NotEqual(Mutants(7), Mutants(8));
        Assert.Equal(original, seed.ToByteArray());
    }

    /// <summary>The first cause of <paramref name="error"/> that is an internal error (an index, overflow or null fault), if any.</summary>
    private static Exception? InternalCause(Exception error)
    {
        for (var cause = error.InnerException; cause is not null; cause = cause.InnerException)
        {
            if (cause is IndexOutOfRangeException or ArgumentOutOfRangeException or OverflowException or NullReferenceException or InvalidCastException or OutOfMemoryException or KeyNotFoundException)
            {
                return cause;
            }
        }

        return null;
    }

    /// <summary>
    /// What a user does with a model: read it, find its weights, load it natively, run it; and where all that worked,
    /// compress it, plainly and with calibration from the same inputs, and run each compressed file.
    /// </summary>
    private static void Exercise(byte[] bytes, Tensor[] inputs, (CompressionMethod Plain, CompressionMethod Calibrated, CompressionScope Scope) exercise,
        Action<string> reached, CancellationToken token)
    {
        reached("parse");
        var model = OnnxModel.Parse(bytes, "fuzzed.onnx");
        reached("find weights");
        WeightFinder.FindWeights(model);
        reached("load");
        var engine = new NativeModel(model);
        reached("run");
        engine.Run(inputs);
        if (model.Metadata.ContainsKey(Export.CompressionMetadata.Key))
        {
            return;
        }

        reached("compress");
        var options = new CompressionOptions { KeepDenseWhereItDoesNotPay = false, Method = exercise.Plain, Ratio = 2, Scope = exercise.Scope };
        RunCompressed(RnnCompressor.Compress(model, options, cancellationToken: token));
        reached("calibrate");
        var calibration = CalibrationStatistics.Capture(model, [inputs], token);
        reached("compress calibrated");
        RunCompressed(RnnCompressor.Compress(model, options with { Method = exercise.Calibrated, Calibration = calibration }, cancellationToken: token));

        void RunCompressed(CompressionResult result)
        {
            reached("run compressed");
            new NativeModel(OnnxModel.Parse(result.ToCompressedModel().ToBytes(), "fuzzed-compressed.onnx")).Run(inputs);
        }
    }

    /// <summary>
    /// Runs <paramref name="exercise"/> on its own thread for at most <see cref="TimeLimit"/> (then cancels it and
    /// leaves the thread behind), counting what that thread allocated.
    /// </summary>
    private static (Exception? Error, bool TimedOut, long Allocated, TimeSpan Elapsed, string Stage) Guarded(Action<Action<string>, CancellationToken> exercise)
    {
        var cancellation = new CancellationTokenSource();
        Exception? error = null;
        long allocated = 0;
        var stage = "start";
        var thread = new Thread(() =>
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                exercise(s => Volatile.Write(ref stage, s), cancellation.Token);
            }
            catch (Exception e)
            {
                error = e;
            }

            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        }) { IsBackground = true, Name = "structured fuzz mutant" };
        var clock = Stopwatch.StartNew();
        thread.Start();
        if (!thread.Join(TimeLimit))
        {
            cancellation.Cancel();
            return (null, true, 0, clock.Elapsed, Volatile.Read(ref stage));
        }

        return (error, false, allocated, clock.Elapsed, stage);
    }
}
