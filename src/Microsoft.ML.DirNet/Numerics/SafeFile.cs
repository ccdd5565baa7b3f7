using System.Text;
using Microsoft.Win32.SafeHandles;
using Mono.Unix;
using Mono.Unix.Native;

namespace Microsoft.ML.DirNet.Numerics;

/// <summary>
/// The one place the library opens input files and asks what a path is: every reader (models, tensor files, data
/// folders) and <see cref="AtomicFile"/> go through it.
/// </summary>
/// <remarks>
/// .NET's own file APIs cannot tell a FIFO or a device from a regular file (<c>File.Exists</c> is true and
/// <c>FileInfo.Attributes</c> is Normal for both), and opening a FIFO for reading blocks until a writer appears. So on
/// Unix files are opened with <c>O_NONBLOCK</c> (which makes opening a FIFO return at once) and the opened descriptor
/// is checked with <c>fstat</c>, which closes the gap between checking a path and opening it. Windows has no FIFOs or
/// device nodes in the file namespace, so there the ordinary <see cref="FileStream"/> and full-path comparison serve.
/// Every refusal is reported through a <c>fail</c> callback that turns a problem phrase ("is a named pipe (FIFO), not
/// a regular file") into the caller's own typed exception, so messages name the file the way each caller speaks of it.
/// </remarks>
internal static class SafeFile
{
    /// <summary>The largest file <see cref="ReadProtobuf"/> accepts: protobuf messages are limited to 2 GiB.</summary>
    public const long ProtobufLimit = int.MaxValue;

    // Kernels refuse to follow more links than this while resolving one path (Linux: 40); so does RealPath.
    private const int MaxLinks = 40;

    /// <summary>A refusal as a <see cref="DirNetException"/>: "'path' PROBLEM.".</summary>
    public static Func<string, Exception> Plain(string path) => problem => new DirNetException($"'{path}' {problem}.");

    /// <summary>
    /// Opens a regular file for reading without blocking; anything else (FIFO, device, folder, socket, missing or
    /// unreadable file) is refused through <paramref name="fail"/> before a byte is read.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="fail">Makes the exception to throw from a problem phrase such as "does not exist".</param>
    /// <param name="followLinks">False refuses a symbolic link as the last component (O_NOFOLLOW).</param>
    public static FileStream OpenRead(string path, Func<string, Exception> fail, bool followLinks = true)
    {
        if (OperatingSystem.IsWindows())
        {
            return OpenReadWindows(path, fail);
        }

        var flags = OpenFlags.O_RDONLY | OpenFlags.O_NONBLOCK | OpenFlags.O_CLOEXEC;
        if (!followLinks)
        {
            flags |= OpenFlags.O_NOFOLLOW;
        }

        int descriptor;
        Errno error;
        do
        {
            descriptor = Syscall.open(path, flags);
            error = descriptor < 0 ? Stdlib.GetLastError() : 0;
        }
        while (descriptor < 0 && error == Errno.EINTR);

        if (descriptor < 0)
        {
            throw fail(error switch
            {
                Errno.ENOENT => "does not exist",
                Errno.ENOTDIR => "does not exist (a folder on its path is a file)",
                Errno.ELOOP when !followLinks => "is a symbolic link",
                Errno.EACCES => "cannot be read (permission denied)",
                _ => $"cannot be opened ({UnixMarshal.GetErrorDescription(error)})",
            });
        }

        var handle = new SafeFileHandle(descriptor, ownsHandle: true);
        try
        {
            if (Syscall.fstat(descriptor, out var stat) != 0)
            {
                throw fail($"cannot be examined ({UnixMarshal.GetErrorDescription(Stdlib.GetLastError())})");
            }

            if ((stat.st_mode & FilePermissions.S_IFMT) != FilePermissions.S_IFREG)
            {
                throw fail($"is {Describe(stat.st_mode)}, not a regular file");
            }

            return new FileStream(handle, FileAccess.Read);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reads a whole regular file that holds one protobuf message (a model or a tensor file), refusing files larger
    /// than protobuf's 2 GiB limit before allocating; no more than the size the file has when opened is read.
    /// </summary>
    public static byte[] ReadProtobuf(string path, Func<string, Exception> fail)
    {
        using var stream = OpenRead(path, fail);
        return ReadBounded(stream, ProtobufLimit, fail,
            length => $"is {length:N0} bytes, more than the 2 GiB a protobuf message (an ONNX model or tensor file) can hold; store large weights as external data");
    }

    /// <summary>Reads the lines of a regular text file (UTF-8 unless a byte-order mark says otherwise), bounded by its size.</summary>
    public static string[] ReadAllLines(string path)
    {
        var fail = Plain(path);
        byte[] bytes;
        using (var stream = OpenRead(path, fail))
        {
            bytes = ReadBounded(stream, int.MaxValue, fail, length => $"is {length:N0} bytes, too large for a text file this library reads");
        }

        using var reader = new StreamReader(new MemoryStream(bytes), Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        var lines = new List<string>();
        while (reader.ReadLine() is { } line)
        {
            lines.Add(line);
        }

        return lines.ToArray();
    }

    /// <summary>
    /// True when both paths reach the same existing file (same device and inode on Unix), whatever links, folders or
    /// <c>/proc/self/cwd</c> lead there; false when either does not exist.
    /// </summary>
    public static bool SameFile(string first, string second)
    {
        if (OperatingSystem.IsWindows())
        {
            // No inode to compare through the portable API; the full paths are the best available identity there.
            return File.Exists(first) && File.Exists(second)
                && string.Equals(Path.GetFullPath(first), Path.GetFullPath(second), StringComparison.OrdinalIgnoreCase);
        }

        return Syscall.stat(first, out var a) == 0 && Syscall.stat(second, out var b) == 0
            && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
    }

    /// <summary>
    /// What exists at <paramref name="path"/> (links followed) when it is not a regular file, as a phrase ("a
    /// character device", "a folder"); null when it is a regular file or nothing is there.
    /// </summary>
    public static string? NotRegular(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return Directory.Exists(path) ? "a folder" : null;
        }

        if (Syscall.stat(path, out var stat) != 0)
        {
            return null;
        }

        return (stat.st_mode & FilePermissions.S_IFMT) == FilePermissions.S_IFREG ? null : Describe(stat.st_mode);
    }

    /// <summary>
    /// The absolute path with every symbolic link (in any component) resolved and <c>.</c>/<c>..</c> applied after
    /// resolution, as the kernel does; components that do not exist are kept as written.
    /// </summary>
    /// <exception cref="IOException">More than 40 links on the way (a loop).</exception>
    public static string RealPath(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return Path.GetFullPath(path);
        }

        // Path.GetFullPath would apply ".." before links are followed ("link/.." is not the folder holding link), so
        // only the relative start is made absolute here; the current directory is already a real path.
        var start = Path.IsPathRooted(path) ? path : Path.Combine(Directory.GetCurrentDirectory(), path);
        var pending = new Stack<string>(Components(start).Reverse());
        var resolved = new List<string>();
        var links = 0;
        while (pending.Count > 0)
        {
            var part = pending.Pop();
            if (part is "" or ".")
            {
                continue;
            }

            if (part == "..")
            {
                if (resolved.Count > 0)
                {
                    resolved.RemoveAt(resolved.Count - 1);
                }

                continue;
            }

            var candidate = "/" + string.Join('/', resolved.Append(part));
            var target = LinkTarget(candidate);
            if (target is null)
            {
                resolved.Add(part);
                continue;
            }

            if (++links > MaxLinks)
            {
                throw new IOException($"'{path}' has more than {MaxLinks} symbolic links on its way (a loop).");
            }

            if (target.StartsWith('/'))
            {
                resolved.Clear();
            }

            foreach (var next in Components(target).Reverse())
            {
                pending.Push(next);
            }
        }

        return "/" + string.Join('/', resolved);
    }

    /// <summary>True when <paramref name="realFile"/> lies strictly inside <paramref name="realFolder"/> (both real paths).</summary>
    public static bool IsInside(string realFile, string realFolder)
    {
        var comparison = OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        var prefix = realFolder.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar;
        return realFile.Length > prefix.Length && realFile.StartsWith(prefix, comparison);
    }

    /// <summary>
    /// Asks the file system to make a rename in <paramref name="directory"/> durable (fsync of the folder). Best
    /// effort: some file systems refuse it, and the file's own bytes were already flushed.
    /// </summary>
    public static void FlushDirectory(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var descriptor = Syscall.open(directory, OpenFlags.O_RDONLY | OpenFlags.O_DIRECTORY | OpenFlags.O_CLOEXEC);
        if (descriptor >= 0)
        {
            Syscall.fsync(descriptor);
            Syscall.close(descriptor);
        }
    }

    /// <summary>True when a process with this id is running (Linux, through /proc); null where that cannot be told.</summary>
    public static bool? ProcessIsRunning(int processId) =>
        OperatingSystem.IsLinux() && Directory.Exists("/proc/self") ? Directory.Exists($"/proc/{processId}") : null;

    private static byte[] ReadBounded(FileStream stream, long limit, Func<string, Exception> fail, Func<long, string> tooLarge)
    {
        // The size comes from the opened regular file; reading stops there even if the file grows meanwhile, and the
        // buffer is allocated only after the size is known to be acceptable.
        var length = stream.Length;
        if (length > limit)
        {
            throw fail(tooLarge(length));
        }

        var bytes = new byte[length];
        var filled = 0;
        while (filled < bytes.Length)
        {
            var read = stream.Read(bytes, filled, bytes.Length - filled);
            if (read == 0)
            {
                // The file shrank while being read: what is there is what it holds now.
                Array.Resize(ref bytes, filled);
                break;
            }

            filled += read;
        }

        return bytes;
    }

    private static FileStream OpenReadWindows(string path, Func<string, Exception> fail)
    {
        if (Directory.Exists(path))
        {
            throw fail("is a folder, not a regular file");
        }

        if (!File.Exists(path))
        {
            throw fail("does not exist");
        }

        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw fail($"cannot be opened ({e.Message})");
        }
    }

    private static string? LinkTarget(string path)
    {
        try
        {
            return new FileInfo(path).LinkTarget;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Not a link we may read (or nothing there): the component is kept as written and opening it later
            // reports what is wrong.
            return null;
        }
    }

    private static IEnumerable<string> Components(string path) => path.Split('/', StringSplitOptions.RemoveEmptyEntries);

    private static string Describe(FilePermissions mode) => (mode & FilePermissions.S_IFMT) switch
    {
        FilePermissions.S_IFDIR => "a folder",
        FilePermissions.S_IFIFO => "a named pipe (FIFO)",
        FilePermissions.S_IFCHR => "a character device",
        FilePermissions.S_IFBLK => "a block device",
        FilePermissions.S_IFSOCK => "a socket",
        FilePermissions.S_IFLNK => "a symbolic link",
        _ => "an unknown kind of file",
    };
}
