using Google.Protobuf;
using Microsoft.ML.DirNet.Evaluation;
using Microsoft.ML.DirNet.Numerics;
using Microsoft.ML.DirNet.Onnx;
using Microsoft.ML.DirNet.Onnx.Protobuf;
using Mono.Unix.Native;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// Hostile file-system input: links out of the model's folder, FIFOs and devices where files are expected, huge sparse
/// files, aliases of the input as the output, and failed writes. The FIFO, device and link cases need Unix; CI is
/// Linux, so on Windows (no FIFOs or device nodes in the file namespace) those tests return early, each saying so.
/// </summary>
public sealed class FileSafetyTests
{
    // A reader that blocks on a FIFO would hang the test run; each such read runs under this limit instead.
    private static readonly TimeSpan NoHang = TimeSpan.FromSeconds(20);

    [Fact]
    public void ExternalDataInsideTheFolderIsRead_AlsoThroughALinkThatStaysInside()
    {
        if (OperatingSystem.IsWindows()) return; // symbolic links need privileges there; the Unix run covers this.
        var folder = TestPaths.NewTemporaryFolder();
        Directory.CreateDirectory(Path.Combine(folder, "data"));
        File.WriteAllBytes(Path.Combine(folder, "data", "w.bin"), [.. new byte[8], .. BitConverter.GetBytes(2.5f)]);
        File.CreateSymbolicLink(Path.Combine(folder, "alias.bin"), Path.Combine("data", "w.bin"));

        foreach (var location in new[] { "data/w.bin", "alias.bin", "data/../data/w.bin" })
        {
            var model = WriteModel(folder, location, offset: 8, length: 4);
            Assert.Equal([2.5f], OnnxModel.Load(model).Graph.GetInitializer("w").As<float>().Data);
        }
    }

    [Fact]
    public void ExternalDataThroughASymlinkedFileOutsideIsRefused()
    {
        if (OperatingSystem.IsWindows()) return; // symbolic links need privileges there; the Unix run covers this.
        var (folder, outside) = FolderAndOutside();
        File.CreateSymbolicLink(Path.Combine(folder, "w.bin"), Path.Combine(outside, "secret.bin"));

        var error = Assert.Throws<OnnxFormatException>(() => OnnxModel.Load(WriteModel(folder, "w.bin")));
        Assert.Contains("outside the model's folder", error.Message);
        Assert.Contains("secret.bin", error.Message);
    }

    [Fact]
    public void ExternalDataLocationsWithANulOrAnAbsolutePathAreRefused()
    {
        var (folder, outside) = FolderAndOutside();
        var nul = Assert.Throws<OnnxFormatException>(() => OnnxModel.Load(WriteModel(folder, "w.bin\0../../etc/passwd")));
        Assert.Contains("NUL", nul.Message);
        var absolute = Assert.Throws<OnnxFormatException>(() => OnnxModel.Load(WriteModel(folder, Path.Combine(outside, "secret.bin"))));
        Assert.Contains("outside the model's folder", absolute.Message);
    }

    [Fact]
    public void ExternalDataInASymlinkedFolderOutsideIsRefused()
    {
        if (OperatingSystem.IsWindows()) return; // symbolic links need privileges there; the Unix run covers this.
        var (folder, outside) = FolderAndOutside();
        Directory.CreateDirectory(Path.Combine(outside, "sub"));
        File.CreateSymbolicLink(Path.Combine(folder, "data"), outside);
        File.CreateSymbolicLink(Path.Combine(folder, "deep"), Path.Combine(outside, "sub"));

        // "deep/../secret.bin" is outside: the kernel applies ".." after following the link, so must the check.
        foreach (var location in new[] { "data/secret.bin", "deep/../secret.bin", "../" + Path.GetFileName(outside) + "/secret.bin" })
        {
            var error = Assert.Throws<OnnxFormatException>(() => OnnxModel.Load(WriteModel(folder, location)));
            Assert.Contains("outside the model's folder", error.Message);
        }
    }

    [Fact]
    public void ExternalDataThatIsAFifoOrAFolderIsRefusedWithoutBlocking()
    {
        if (OperatingSystem.IsWindows()) return; // no FIFOs in the Windows file namespace.
        var folder = TestPaths.NewTemporaryFolder();
        MakeFifo(Path.Combine(folder, "pipe.bin"));
        Directory.CreateDirectory(Path.Combine(folder, "dir.bin"));

        var fifo = AssertThrowsPromptly<OnnxFormatException>(() => OnnxModel.Load(WriteModel(folder, "pipe.bin")));
        Assert.Contains("named pipe (FIFO), not a regular file", fifo.Message);
        var directory = Assert.Throws<OnnxFormatException>(() => OnnxModel.Load(WriteModel(folder, "dir.bin")));
        Assert.Contains("a folder, not a regular file", directory.Message);
    }

    [Fact]
    public void ExternalDataReadsOnlyTheDeclaredSizeOfAHugeSparseFile()
    {
        var folder = TestPaths.NewTemporaryFolder();
        using (var sparse = new FileStream(Path.Combine(folder, "huge.bin"), FileMode.CreateNew))
        {
            sparse.SetLength(2L << 30); // 2 GiB of holes: nothing is written, nothing should be read
        }

        var model = WriteModel(folder, "huge.bin");
        var before = GC.GetAllocatedBytesForCurrentThread();
        var loaded = OnnxModel.Load(model);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal([0f], loaded.Graph.GetInitializer("w").As<float>().Data);
        Assert.True(allocated < 1 << 20, $"loading a Float[1] tensor allocated {allocated:N0} bytes");

        // A stated length must match the declared Float[1] (4 bytes): the file's size is no licence to read more.
        var error = Assert.Throws<OnnxFormatException>(() => OnnxModel.Load(WriteModel(folder, "huge.bin", length: 2L << 30)));
        Assert.Contains("declares 4 bytes", error.Message);
        Assert.Contains("length is 2147483648", error.Message);

        // Asking beyond the end is named with the file's size.
        var beyond = Assert.Throws<OnnxFormatException>(() => OnnxModel.Load(WriteModel(folder, "huge.bin", offset: (2L << 30) - 2)));
        Assert.Contains("which has 2147483648 bytes", beyond.Message);
    }

    [Fact]
    public void ModelFileThatIsAFifoADeviceOrAFolderIsRefusedBeforeReading()
    {
        if (OperatingSystem.IsWindows()) return; // no FIFOs or device nodes in the Windows file namespace.
        var folder = TestPaths.NewTemporaryFolder();
        var fifo = Path.Combine(folder, "model.onnx");
        MakeFifo(fifo);

        Assert.Contains("named pipe (FIFO)", AssertThrowsPromptly<OnnxFormatException>(() => OnnxModel.Load(fifo)).Message);
        Assert.Contains("a folder", Assert.Throws<OnnxFormatException>(() => OnnxModel.Load(folder)).Message);
        foreach (var device in new[] { "/dev/zero", "/dev/urandom" })
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            var error = Assert.Throws<OnnxFormatException>(() => OnnxModel.Load(device));
            Assert.Contains("character device, not a regular file", error.Message);
            Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20, $"{device} was read");
        }
    }

    [Fact]
    public void ModelFileLargerThanProtobufsLimitIsRefusedBeforeReading()
    {
        var path = Path.Combine(TestPaths.NewTemporaryFolder(), "big.onnx");
        using (var sparse = new FileStream(path, FileMode.CreateNew))
        {
            sparse.SetLength((2L << 30) + 10);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<OnnxFormatException>(() => OnnxModel.Load(path));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20, "the oversized file was read");
        Assert.Contains("2 GiB", error.Message);
        Assert.Contains("big.onnx", error.Message);
    }

    [Fact]
    public void TensorFilesThatAreFifosOrDevicesAreRefused_AlsoInCalibrationAndRunFolders()
    {
        if (OperatingSystem.IsWindows()) return; // no FIFOs or device nodes in the Windows file namespace.
        var folder = TestPaths.NewTemporaryFolder();
        var fifo = Path.Combine(folder, "input_0.pb");
        MakeFifo(fifo);

        Assert.Contains("named pipe (FIFO)", AssertThrowsPromptly<OnnxFormatException>(() => TensorFile.Read(fifo)).Message);
        Assert.Contains("character device", Assert.Throws<OnnxFormatException>(() => TensorFile.Read("/dev/zero")).Message);
        Assert.Contains("input_0.pb", AssertThrowsPromptly<OnnxFormatException>(() => TensorFile.ReadSeries(folder, "input")).Message);

        // The same FIFO one level down, as a calibration set (test_data_set_N layout).
        var calibration = TestPaths.NewTemporaryFolder();
        Directory.CreateDirectory(Path.Combine(calibration, "set_0"));
        MakeFifo(Path.Combine(calibration, "set_0", "input_0.pb"));
        AssertThrowsPromptly<OnnxFormatException>(() => CalibrationInputs.FromFolder(calibration));
    }

    [Fact]
    public void EvaluationDataFilesThatAreFifosOrDevicesAreRefused()
    {
        if (OperatingSystem.IsWindows()) return; // no FIFOs or device nodes in the Windows file namespace.
        var lm = TestPaths.NewTemporaryFolder();
        MakeFifo(Path.Combine(lm, "vocab.txt"));
        File.WriteAllText(Path.Combine(lm, "test.txt"), "a b\n");
        Assert.Contains("vocab.txt' is a named pipe", AssertThrowsPromptly<DirNetException>(() => LanguageModelCorpus.ReadIds(lm)).Message);

        var speech = TestPaths.NewTemporaryFolder();
        MakeFifo(Path.Combine(speech, "manifest.tsv"));
        Assert.Contains("manifest.tsv' is a named pipe", AssertThrowsPromptly<DirNetException>(() => SpeechRecognitionEvaluator.ReadManifest(speech)).Message);
        var alphabet = Path.Combine(speech, "alphabet.txt");
        MakeFifo(alphabet);
        AssertThrowsPromptly<DirNetException>(() => CtcGreedyDecoder.FromFile(alphabet));
        Assert.Contains("character device", Assert.Throws<DirNetException>(() => WaveFile.ReadPcm16Mono("/dev/zero")).Message);
    }

    [Fact]
    public void TheSameFileIsRecognisedThroughEveryAlias()
    {
        if (OperatingSystem.IsWindows()) return; // identity there is the full path; links and /proc are Unix.
        var folder = TestPaths.NewTemporaryFolder();
        var input = Path.Combine(folder, "model.onnx");
        File.WriteAllText(input, "x");
        var copy = Path.Combine(folder, "copy.onnx");
        File.WriteAllText(copy, "x");

        // The kernel applies ".." after /proc/self/cwd's link, so this reaches the input from any working directory.
        var throughCwd = "/proc/self/cwd/" + Path.GetRelativePath(Directory.GetCurrentDirectory(), input);
        foreach (var alias in Aliases(folder, input).Append(throughCwd))
        {
            Assert.True(SafeFile.SameFile(input, alias), alias);
        }

        Assert.False(SafeFile.SameFile(input, copy));
        Assert.False(SafeFile.SameFile(input, Path.Combine(folder, "missing.onnx")));
    }

    [Fact]
    public void AFailedWriteLeavesNeitherTargetNorTemporaryFile_AndKeepsTheOldFile()
    {
        var folder = TestPaths.NewTemporaryFolder();
        var target = Path.Combine(folder, "out.onnx");
        Action<Stream> failing = stream =>
        {
            stream.Write(new byte[100_000]);
            throw new IOException("No space left on device");
        };

        var error = Assert.Throws<DirNetException>(() => AtomicFile.Write(target, failing));
        Assert.Contains("out.onnx", error.Message);
        Assert.Contains("No space left on device", error.Message);
        Assert.Empty(Directory.GetFileSystemEntries(folder));

        File.WriteAllText(target, "old");
        Assert.Throws<DirNetException>(() => AtomicFile.Write(target, failing));
        Assert.Equal("old", File.ReadAllText(target));
        Assert.Single(Directory.GetFileSystemEntries(folder));

        // Any other failure of the writer is passed on as it is, and cleaned up the same way.
        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(target, _ => throw new InvalidOperationException()));
        Assert.Single(Directory.GetFileSystemEntries(folder));
    }

    [Fact]
    public void TemporaryFilesOfAKilledProcessAreRemovedByTheNextWrite()
    {
        if (!OperatingSystem.IsLinux()) return; // whether a process runs is read from /proc.
        var folder = TestPaths.NewTemporaryFolder();
        var guid = Guid.NewGuid().ToString("N");
        // No process has id 999999999 (Linux's pid_max is at most 4194304); process 1 always runs.
        var stale = Path.Combine(folder, $".out.onnx.999999999.{guid}.tmp");
        var live = Path.Combine(folder, $".out.onnx.1.{guid}.tmp");
        var other = Path.Combine(folder, $".other.onnx.999999999.{guid}.tmp");
        foreach (var file in new[] { stale, live, other })
        {
            File.WriteAllText(file, "partial");
        }

        AtomicFile.Write(Path.Combine(folder, "out.onnx"), stream => stream.WriteByte(1));
        Assert.False(File.Exists(stale));
        Assert.True(File.Exists(live));
        Assert.True(File.Exists(other));
        Assert.Equal([1], File.ReadAllBytes(Path.Combine(folder, "out.onnx")));
    }

    [Fact]
    public void WriteTargetsThatAreNotRegularFilesOrLackAFolderAreRefused()
    {
        var folder = TestPaths.NewTemporaryFolder();
        Action<Stream> write = stream => stream.WriteByte(1);

        Assert.Contains("a folder", Assert.Throws<DirNetException>(() => AtomicFile.Write(folder, write)).Message);
        var missing = Path.Combine(folder, "no", "such", "out.onnx");
        var error = Assert.Throws<DirNetException>(() => AtomicFile.Write(missing, write));
        Assert.Contains($"'{Path.Combine(folder, "no", "such")}' does not exist", error.Message);
        Assert.False(Directory.Exists(Path.Combine(folder, "no")));

        if (OperatingSystem.IsWindows()) return; // the device and FIFO cases below are Unix file types.
        Assert.Contains("character device", Assert.Throws<DirNetException>(() => AtomicFile.Write("/dev/full", write)).Message);
        var fifo = Path.Combine(folder, "pipe");
        MakeFifo(fifo);
        Assert.Contains("named pipe", Assert.Throws<DirNetException>(() => AtomicFile.Write(fifo, write)).Message);
        var link = Path.Combine(folder, "link");
        File.CreateSymbolicLink(link, "/dev/full");
        Assert.Contains("character device", Assert.Throws<DirNetException>(() => AtomicFile.Write(link, write)).Message);
        Assert.Equal(["link", "pipe"], Directory.GetFileSystemEntries(folder).Select(Path.GetFileName).Order());
    }

    /// <summary>
    /// Aliases of <paramref name="input"/> as a hostile -o wrote them: through a symlinked folder, a link to the file,
    /// /proc's links to the root, a detour. (/proc/self/cwd needs the process's working directory, so the CLI test
    /// runs a child process for it and <see cref="TheSameFileIsRecognisedThroughEveryAlias"/> reaches it with "..".)
    /// </summary>
    internal static IEnumerable<string> Aliases(string folder, string input)
    {
        var linkedFolder = folder + "-link";
        File.CreateSymbolicLink(linkedFolder, folder);
        var linkedFile = Path.Combine(folder, "link.onnx");
        File.CreateSymbolicLink(linkedFile, input);
        Directory.CreateDirectory(Path.Combine(folder, "sub"));
        yield return Path.Combine(linkedFolder, Path.GetFileName(input));
        yield return linkedFile;
        yield return "/proc/self/root" + input;
        yield return Path.Combine(folder, ".", "sub", "..", Path.GetFileName(input));
    }

    internal static void MakeFifo(string path) =>
        Assert.Equal(0, Syscall.mkfifo(path, FilePermissions.S_IRUSR | FilePermissions.S_IWUSR));

    private static T AssertThrowsPromptly<T>(Action action) where T : Exception
    {
        var task = Task.Run(() => Assert.Throws<T>(action));
        Assert.True(task.Wait(NoHang), $"the read blocked for {NoHang.TotalSeconds} s (a FIFO was opened for reading)");
        return task.Result;
    }

    private static (string Folder, string Outside) FolderAndOutside()
    {
        var root = TestPaths.NewTemporaryFolder();
        var folder = Path.Combine(root, "model");
        var outside = Path.Combine(root, "outside");
        Directory.CreateDirectory(folder);
        Directory.CreateDirectory(outside);
        File.WriteAllBytes(Path.Combine(outside, "secret.bin"), BitConverter.GetBytes(7f));
        return (folder, outside);
    }

    /// <summary>A model whose one initializer, w: Float[1], keeps its data at <paramref name="location"/>.</summary>
    private static string WriteModel(string folder, string location, long offset = 0, long length = -1)
    {
        var weight = new TensorProto { Name = "w", DataType = (int)TensorProto.Types.DataType.Float, DataLocation = TensorProto.Types.DataLocation.External };
        weight.Dims.Add(1);
        weight.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
        weight.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString() });
        if (length >= 0)
        {
            weight.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = length.ToString() });
        }

        var graph = new GraphProto { Name = "external" };
        graph.Initializer.Add(weight);
        graph.Node.Add(new NodeProto { OpType = "Identity", Input = { "w" }, Output = { "y" } });
        graph.Output.Add(new ValueInfoProto { Name = "y", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1 } } });
        var model = new ModelProto { IrVersion = 8, Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 14 });
        var path = Path.Combine(folder, $"model-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, model.ToByteArray());
        return path;
    }
}

/// <summary>The same refusals at the command line: exit code 2, one line on stderr, the input untouched.</summary>
[Collection(nameof(CliCollection))]
public sealed class FileSafetyCliTests
{
    private static readonly string Fixture = Path.Combine(TestPaths.Fixtures, "lm_embedding_lstm_linear", "model.onnx");

    [Fact]
    public void CompressRefusesAnyAliasOfTheInputAsTheOutput()
    {
        if (OperatingSystem.IsWindows()) return; // links and /proc are Unix; CliTests covers the plain same path.
        var folder = TestPaths.NewTemporaryFolder();
        var input = Path.Combine(folder, "model.onnx");
        File.Copy(Fixture, input);
        var original = File.ReadAllBytes(input);

        foreach (var alias in FileSafetyTests.Aliases(folder, input))
        {
            var (code, _, stderr) = CliTests.Dirnet("compress", input, "-o", alias, "--method", "lowrank", "--ratio", "2");
            AssertOneLineError(code, stderr, "is the input model");
            Assert.Equal(original, File.ReadAllBytes(input));
        }
    }

    [Fact]
    public async Task CompressRefusesTheInputThroughProcSelfCwd()
    {
        if (!OperatingSystem.IsLinux()) return; // /proc/self/cwd is Linux's.
        var folder = TestPaths.NewTemporaryFolder();
        File.Copy(Fixture, Path.Combine(folder, "model.onnx"));
        var original = File.ReadAllBytes(Path.Combine(folder, "model.onnx"));

        // A child process, so that its working directory can be the model's folder without moving this one's.
        var start = new System.Diagnostics.ProcessStartInfo("dotnet",
            [Path.Combine(AppContext.BaseDirectory, "dirnet.dll"), "compress", "model.onnx", "-o", "/proc/self/cwd/model.onnx", "--method", "lowrank", "--ratio", "2"])
        {
            WorkingDirectory = folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = System.Diagnostics.Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        AssertOneLineError(process.ExitCode, await stderr, "is the input model");
        Assert.Equal(original, File.ReadAllBytes(Path.Combine(folder, "model.onnx")));
        Assert.Single(Directory.GetFileSystemEntries(folder));
    }

    [Fact]
    public void CompressRefusesOutputsThatAreNotRegularFilesOrLackTheirFolder()
    {
        var folder = TestPaths.NewTemporaryFolder();
        var cases = new List<(string Output, string Expected)>
        {
            ("/", "names a folder"),
            (folder, "is a folder"),
            (Path.Combine(folder, "no", "such", "out.onnx"), $"'{Path.Combine(folder, "no", "such")}' does not exist"),
        };
        if (!OperatingSystem.IsWindows()) // the device and FIFO cases are Unix file types.
        {
            var fifo = Path.Combine(folder, "pipe.onnx");
            FileSafetyTests.MakeFifo(fifo);
            cases.Add(("/dev/full", "character device"));
            cases.Add((fifo, "named pipe"));
        }

        foreach (var (output, expected) in cases)
        {
            var (code, _, stderr) = CliTests.Dirnet("compress", Fixture, "-o", output, "--method", "lowrank", "--ratio", "2");
            AssertOneLineError(code, stderr, expected);
        }

        Assert.False(Directory.Exists(Path.Combine(folder, "no")));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(FilePermissions.S_IFCHR, Stat("/dev/full") & FilePermissions.S_IFMT);
            Assert.Equal(FilePermissions.S_IFIFO, Stat(Path.Combine(folder, "pipe.onnx")) & FilePermissions.S_IFMT);
        }
    }

    [Fact]
    public async Task AModelThatIsAFifoOrDeviceIsAOneLineErrorForEveryVerb()
    {
        if (OperatingSystem.IsWindows()) return; // no FIFOs or device nodes in the Windows file namespace.
        var folder = TestPaths.NewTemporaryFolder();
        var fifo = Path.Combine(folder, "model.onnx");
        FileSafetyTests.MakeFifo(fifo);
        var data = TestPaths.NewTemporaryFolder();
        FileSafetyTests.MakeFifo(Path.Combine(data, "input_0.pb"));
        foreach (var args in new[]
        {
            new[] { "inspect", fifo },
            ["inspect", "/dev/zero"],
            ["compress", "/dev/urandom", "-o", Path.Combine(folder, "out.onnx")],
            ["run", Fixture, "--data", data],
            ["compress", Fixture, "-o", Path.Combine(folder, "out.onnx"), "--calibration", data, "--ratio", "2"],
        })
        {
            // WaitAsync throws TimeoutException (failing the test) if the verb blocks on the FIFO.
            var (code, _, stderr) = await Task.Run(() => CliTests.Dirnet(args)).WaitAsync(TimeSpan.FromSeconds(60));
            AssertOneLineError(code, stderr, "not a regular file");
        }

        Assert.False(File.Exists(Path.Combine(folder, "out.onnx")));
    }

    private static void AssertOneLineError(int code, string stderr, string expected)
    {
        Assert.True(code == 2, $"exit {code}: {stderr}");
        Assert.StartsWith("error: ", stderr);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.Contains(expected, stderr);
    }

    private static FilePermissions Stat(string path)
    {
        Assert.Equal(0, Syscall.stat(path, out var stat));
        return stat.st_mode;
    }
}
