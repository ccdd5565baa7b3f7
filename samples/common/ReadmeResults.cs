using System.Runtime.Intrinsics;
using System.Text;

namespace DirNetSamples;

/// <summary>
/// The part of a sample's README that the sample writes itself (run with <c>--update-readme</c>), between a line
/// starting <see cref="BeginMarker"/> and the line <see cref="EndMarker"/>: numbers copied by hand go stale, these are
/// rewritten by the code that produces them, and a test recomputes the fast rows' sizes and metrics against them.
/// </summary>
internal static class ReadmeResults
{
    /// <summary>How the line opening the written block starts (the rest of it says what writes the block).</summary>
    public const string BeginMarker = "<!-- results:";

    /// <summary>The line closing the written block.</summary>
    public const string EndMarker = "<!-- end of results -->";

    /// <summary>The text between the markers of <paramref name="readmePath"/>.</summary>
    public static string Block(string readmePath)
    {
        var (lines, begin, end) = Locate(readmePath);
        return string.Join('\n', lines[(begin + 1)..end]);
    }

    /// <summary>Replaces the text between the markers with <paramref name="block"/>; the rest of the file is kept.</summary>
    public static void Rewrite(string readmePath, string block)
    {
        var (lines, begin, end) = Locate(readmePath);
        var text = new StringBuilder();
        foreach (var line in lines[..(begin + 1)])
        {
            text.Append(line).Append('\n');
        }

        text.Append(block.TrimEnd('\n')).Append('\n');
        foreach (var line in lines[end..])
        {
            text.Append(line).Append('\n');
        }

        File.WriteAllText(readmePath, text.ToString().TrimEnd('\n') + "\n");
    }

    /// <summary>
    /// The first markdown table of <paramref name="block"/>: one dictionary per row, from header cell to cell
    /// (cells trimmed; the alignment row skipped).
    /// </summary>
    public static List<Dictionary<string, string>> Table(string block) =>
        Tables(block).FirstOrDefault() ?? throw new InvalidDataException("The README's results block has no table.");

    /// <summary>
    /// Every markdown table of <paramref name="text"/> (a header line, an alignment line, rows), in order: one
    /// dictionary per row, from header cell to cell (cells trimmed).
    /// </summary>
    public static IEnumerable<List<Dictionary<string, string>>> Tables(string text)
    {
        static string[] Cells(string line) => line.Trim().Trim('|').Split('|').Select(c => c.Trim()).ToArray();
        var lines = text.Split('\n');
        for (var i = 0; i + 1 < lines.Length; i++)
        {
            if (!lines[i].StartsWith('|') || !lines[i + 1].StartsWith('|'))
            {
                continue;
            }

            var header = Cells(lines[i]);
            var rows = new List<Dictionary<string, string>>();
            for (i += 2; i < lines.Length && lines[i].StartsWith('|'); i++)
            {
                var cells = Cells(lines[i]);
                rows.Add(header.Select((name, k) => (name, cell: k < cells.Length ? cells[k] : "")).ToDictionary(p => p.name, p => p.cell));
            }

            yield return rows;
        }
    }

    /// <summary>The machine, in the words the READMEs use: processor, cores, widest accelerated SIMD, and the date.</summary>
    public static string MachineDescription()
    {
        var processor = File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim()
            : null;
        var simd = Vector512.IsHardwareAccelerated ? "512-bit SIMD (AVX-512)" : Vector256.IsHardwareAccelerated ? "256-bit SIMD" : Vector128.IsHardwareAccelerated ? "128-bit SIMD" : "no SIMD";
        return $"{processor ?? System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString()}, {Environment.ProcessorCount} cores, {simd}; {DateTime.UtcNow:yyyy-MM-dd}";
    }

    private static (string[] Lines, int Begin, int End) Locate(string readmePath)
    {
        var lines = File.ReadAllText(readmePath).Replace("\r\n", "\n").Split('\n');
        var begin = Array.FindIndex(lines, l => l.StartsWith(BeginMarker, StringComparison.Ordinal));
        var end = begin < 0 ? -1 : Array.FindIndex(lines, begin + 1, l => l == EndMarker);
        if (begin < 0 || end < 0)
        {
            throw new InvalidDataException($"{readmePath} has no results block (a line starting '{BeginMarker}' and a line '{EndMarker}').");
        }

        return (lines, begin, end);
    }
}
