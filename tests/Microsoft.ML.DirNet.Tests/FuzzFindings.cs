using System.Diagnostics;
using System.Text;

namespace Microsoft.ML.DirNet.Tests;

/// <summary>
/// What a fuzzer found, grouped by exception type and the top stack frame inside the library (or by the guard that
/// tripped: a time-out, a large allocation). One mutant of each group, the first with the fewest mutations, is saved as
/// <c>GROUP.onnx</c> beside a <c>GROUP.txt</c> with its mutation, message and stack, so each group has one small
/// reproduction.
/// </summary>
internal sealed class FuzzFindings(string folder)
{
    private readonly List<Group> _groups = [];

    /// <summary>One kind of failure: how often it came, and its first occurrence.</summary>
    public sealed class Group(string key, string saved)
    {
        public string Key { get; } = key;

        public int Count { get; set; }

        /// <summary>The saved mutant's mutation: the first of the fewest mutations seen.</summary>
        public string Mutation { get; set; } = "";

        public int MutationCount { get; set; } = int.MaxValue;

        public string Saved { get; } = saved;
    }

    /// <summary>The folder the groups' mutants are saved in.</summary>
    public string Folder { get; } = folder;

    public IReadOnlyList<Group> Groups => _groups;

    public int Total => _groups.Sum(g => g.Count);

    /// <summary>Records an exception that escaped as something other than a DirNetException.</summary>
    public void AddException(Exception error, string mutation, byte[] mutant) =>
        Add($"{error.GetType().Name} at {LibraryFrame(error)}", mutation, mutant, $"{error.GetType().FullName}: {error.Message}\n{error.StackTrace}");

    /// <summary>Records a guard that tripped (time-out, allocation), with a key naming it.</summary>
    public void AddGuard(string key, string mutation, byte[] mutant, string detail) => Add(key, mutation, mutant, detail);

    private void Add(string key, string mutation, byte[] mutant, string detail)
    {
        if (_groups.FirstOrDefault(g => g.Key == key) is not { } group)
        {
            group = new Group(key, Path.Combine(Folder, Slug(key) + ".onnx"));
            _groups.Add(group);
        }

        group.Count++;
        var mutations = mutation.Split("; ").Length;
        if (mutations < group.MutationCount)
        {
            group.Mutation = mutation;
            group.MutationCount = mutations;
            Directory.CreateDirectory(Folder);
            File.WriteAllBytes(group.Saved, mutant);
            File.WriteAllText(Path.ChangeExtension(group.Saved, ".txt"), $"{key}\nmutation: {mutation}\n\n{detail}\n");
        }
    }

    /// <summary>The first frame of the stack in the library itself (not the tests, not the runtime): Type.Method.</summary>
    public static string LibraryFrame(Exception error)
    {
        foreach (var frame in new StackTrace(error, false).GetFrames())
        {
            var method = frame.GetMethod();
            var type = method?.DeclaringType;
            while (type is { DeclaringType: not null } && type.Name.StartsWith('<'))
            {
                type = type.DeclaringType; // a lambda's or iterator's generated class: name its declaring type
            }

            var ns = type?.Namespace ?? "";
            if (method is not null && ns.StartsWith("Microsoft.ML.DirNet", StringComparison.Ordinal) && !ns.StartsWith("Microsoft.ML.DirNet.Tests", StringComparison.Ordinal))
            {
                return $"{type!.FullName!["Microsoft.ML.DirNet.".Length..].Replace('+', '.')}.{method.Name}";
            }
        }

        return "(no library frame)";
    }

    /// <summary>A table of the groups: count, key, the saved mutant's mutation, saved file.</summary>
    public string Summary()
    {
        var text = new StringBuilder();
        foreach (var group in _groups.OrderByDescending(g => g.Count))
        {
            text.AppendLine($"{group.Count,6}  {group.Key}\n        smallest: {group.Mutation}\n        saved: {group.Saved}");
        }

        return text.ToString();
    }

    private static string Slug(string key)
    {
        var slug = new string(key.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' ? c : '_').ToArray());
        return slug.Length > 120 ? slug[..120] : slug;
    }
}
