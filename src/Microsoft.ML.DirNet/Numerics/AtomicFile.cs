namespace Microsoft.ML.DirNet.Numerics;

/// <summary>Writes files so that readers see either the old file or the complete new one, never a partial one.</summary>
internal static class AtomicFile
{
    /// <summary>
    /// Writes through <paramref name="write"/> to a temporary file beside <paramref name="path"/>, flushes it to disk
    /// and renames it over the target. On any failure the temporary file is removed and the target is untouched;
    /// I/O failures (a full disk, a write error) are reported as a <see cref="DirNetException"/> naming the file.
    /// </summary>
    public static void Write(string path, Action<Stream> write)
    {
        var full = CheckTarget(path);
        var directory = Path.GetDirectoryName(full)!;
        var name = Path.GetFileName(full);
        RemoveStaleTemporaries(directory, name);

        // The process id in the name lets a later write recognise the leftovers of a killed process (see below).
        var temporary = Path.Combine(directory, $".{name}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                write(stream);

                // Without this a crash shortly after the rename can leave the new name pointing at an empty file: the
                // rename may reach the disk before the data does.
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, full, overwrite: true);
            SafeFile.FlushDirectory(directory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DirNetException($"Could not write '{full}': {e.Message}", e);
        }
        finally
        {
            TryDelete(temporary);
        }
    }

    /// <summary>
    /// Checks before any work is done that <paramref name="path"/> can be written: it names a file (not a folder or a
    /// device, FIFO or socket, which a rename would replace) in an existing folder, and, when
    /// <paramref name="input"/> is given, it is not that file by any path (the input is never modified).
    /// Returns the full path.
    /// </summary>
    /// <exception cref="DirNetException">The target cannot or must not be written; the message names it.</exception>
    public static string CheckTarget(string path, string? input = null)
    {
        var full = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(full);
        if (directory is null || Path.GetFileName(full).Length == 0 || Path.EndsInDirectorySeparator(path))
        {
            throw new DirNetException($"Cannot write '{full}': it names a folder, not a file.");
        }

        if (SafeFile.NotRegular(full) is { } kind)
        {
            throw new DirNetException($"Cannot write '{full}': it is {kind}, not a regular file; choose a file path.");
        }

        // A missing folder is an error rather than created: a mistyped path should not silently grow a folder chain.
        if (!Directory.Exists(directory))
        {
            throw new DirNetException(File.Exists(directory)
                ? $"Cannot write '{full}': '{directory}' is a file, not a folder."
                : $"Cannot write '{full}': its folder '{directory}' does not exist.");
        }

        if (input is not null && SafeFile.SameFile(input, full))
        {
            throw new DirNetException($"The output '{full}' is the input model '{input}'; choose another path (the input is never modified).");
        }

        return full;
    }

    /// <summary>
    /// Removes temporary files of <paramref name="name"/> left by a process that no longer runs (killed mid-write,
    /// where no finally block runs), so a kill -9 does not leave hidden files behind for good.
    /// </summary>
    private static void RemoveStaleTemporaries(string directory, string name)
    {
        var prefix = $".{name}.";
        try
        {
            foreach (var file in Directory.EnumerateFiles(directory, ".*.tmp"))
            {
                var fileName = Path.GetFileName(file);
                if (!fileName.StartsWith(prefix, StringComparison.Ordinal))
                {
                    continue;
                }

                // .NAME.PID.GUID.tmp: only files of exactly that shape, of a process known not to run, are removed.
                var middle = fileName[prefix.Length..^".tmp".Length].Split('.');
                if (middle.Length == 2 && int.TryParse(middle[0], out var processId) && middle[1].Length == 32
                    && processId != Environment.ProcessId && SafeFile.ProcessIsRunning(processId) == false)
                {
                    TryDelete(file);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Tidying is a courtesy; it must not make the write itself fail.
        }
    }

    private static void TryDelete(string file)
    {
        try
        {
            File.Delete(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Nothing more can be done; the original error (if any) is the one to report.
        }
    }
}
