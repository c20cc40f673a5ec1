using System.Text;
using System.Xml;
using System.Xml.Linq;

namespace Taquin.Planner.Samples;

/// <summary>
/// Serialises an element the way <c>virsh dumpxml</c> prints it: no XML declaration,
/// two-space indentation, single-quoted attributes, <c>&lt;x/&gt;</c> for empty elements, LF endings.
/// </summary>
internal static class VirshXmlFormat
{
    public static string Format(XElement element)
    {
        var text = new StringWriter(new StringBuilder(), System.Globalization.CultureInfo.InvariantCulture) { NewLine = "\n" };
        using (var writer = new XmlTextWriter(text) { Formatting = Formatting.Indented, Indentation = 2, IndentChar = ' ', QuoteChar = '\'' })
        {
            element.WriteTo(writer);
        }

        // The writer escapes '>' inside attributes and text, so " />" can only be an empty element's end.
        return text.ToString().Replace(" />", "/>", StringComparison.Ordinal).Replace("\r\n", "\n", StringComparison.Ordinal) + "\n";
    }
}
