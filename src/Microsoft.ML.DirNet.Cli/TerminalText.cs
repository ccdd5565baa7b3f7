using System.Globalization;
using System.Text;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Microsoft.ML.DirNet.Cli;

/// <summary>
/// Text from a model or the command line made safe for a terminal. A model names its op types, nodes, tensors,
/// inputs, outputs and metadata freely, so none of it may reach the console as it is: Spectre.Console would read
/// <c>[link=…]</c> or <c>W[</c> as markup, and control characters (ESC sequences, a newline in an error line, a
/// bidi override) would act on the terminal. Every table cell and every line a verb prints goes through here.
/// </summary>
internal static class TerminalText
{
    /// <summary>
    /// The text with every character that acts on a terminal shown as a visible escape: C0 controls (<c>\n</c>,
    /// <c>\r</c>, <c>\t</c>, else <c>\x1b</c> and the like), DEL and the C1 controls (<c>\x7f</c>, <c>\x9b</c>), the
    /// Unicode line and paragraph separators and the bidi controls (<c>\u202e</c>, <c>\u2066</c>…), so the result is
    /// one line that looks on screen as it reads. Nothing else is changed (a backslash stays as it is).
    /// </summary>
    public static string Plain(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return "";
        }

        if (!text.Any(IsUnsafe))
        {
            return text;
        }

        var result = new StringBuilder(text.Length + 16);
        foreach (var c in text)
        {
            if (!IsUnsafe(c))
            {
                result.Append(c);
                continue;
            }

            result.Append(c switch
            {
                '\n' => @"\n",
                '\r' => @"\r",
                '\t' => @"\t",
                < '\u0100' => @"\x" + ((int)c).ToString("x2", CultureInfo.InvariantCulture),
                _ => @"\u" + ((int)c).ToString("x4", CultureInfo.InvariantCulture),
            });
        }

        return result.ToString();
    }

    /// <summary><see cref="Plain"/>, then escaped for Spectre.Console markup: shown literally inside a markup string.</summary>
    public static string Markup(string? text) => Spectre.Console.Markup.Escape(Plain(text));

    /// <summary>
    /// Multi-line text (a Markdown table, a stack trace) made safe line by line: its line breaks are kept, every other
    /// control character is escaped as by <see cref="Plain"/>.
    /// </summary>
    public static string Lines(string? text) =>
        string.Join(Environment.NewLine, (text ?? "").ReplaceLineEndings("\n").Split('\n').Select(Plain));

    /// <summary>A table row of plain cells: each is shown as it is (escaped by <see cref="Plain"/>), never read as markup.</summary>
    public static IRenderable[] Row(params string?[] cells) => [.. cells.Select(c => new Text(Plain(c)))];

    /// <summary>Whether a character acts on a terminal or breaks a line rather than showing as a glyph.</summary>
    public static bool IsUnsafe(char c) =>
        c < ' '                                  // C0 controls: ESC, NUL, BEL, BS, newline, tab, ...
        || c is >= '\u007f' and <= '\u009f'      // DEL and the C1 controls (CSI 0x9b, OSC 0x9d, NEL 0x85, ...)
        || c is '\u061c' or '\u200e' or '\u200f' // bidi marks: Arabic letter mark, left-to-right and right-to-left marks
        || c is '\u2028' or '\u2029'             // line and paragraph separators
        || c is >= '\u202a' and <= '\u202e'      // bidi embeddings and overrides
        || c is >= '\u2066' and <= '\u2069';     // bidi isolates
}
