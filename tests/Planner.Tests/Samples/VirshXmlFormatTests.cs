using System.Xml.Linq;
using Taquin.Planner.Samples;

namespace Taquin.Planner.Tests.Samples;

public sealed class VirshXmlFormatTests
{
    [Fact]
    public void Prints_single_quotes_compact_empty_elements_and_two_space_indent_without_declaration()
    {
        var domain = new XElement("domain", new XAttribute("type", "kvm"), new XElement("name", "web-01"), new XElement("devices", new XElement("memballoon", new XAttribute("model", "virtio"))));

        var text = VirshXmlFormat.Format(domain);

        Assert.Equal("<domain type='kvm'>\n  <name>web-01</name>\n  <devices>\n    <memballoon model='virtio'/>\n  </devices>\n</domain>\n", text);
    }

    [Fact]
    public void Values_with_quotes_angle_brackets_and_accents_survive_a_round_trip()
    {
        const string tricky = "l'asso \"x\" a />b <c> & é·n°";
        var element = new XElement("description", new XAttribute("note", tricky), tricky);

        var reparsed = XElement.Parse(VirshXmlFormat.Format(element));

        Assert.Equal(tricky, (string)reparsed.Attribute("note")!);
        Assert.Equal(tricky, reparsed.Value);
    }
}
