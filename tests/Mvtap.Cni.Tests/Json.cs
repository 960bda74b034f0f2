// Small edits of configuration JSON for the tests: adding prevResult or GC's valid attachments,
// as a runtime derives the request configuration (SPEC.md section 3).
using System.Text.Json.Nodes;

namespace Mvtap.Cni.Tests;

internal static class Json
{
    public static string With(string conf, string key, string valueJson)
    {
        var node = JsonNode.Parse(conf)!.AsObject();
        node[key] = JsonNode.Parse(valueJson);
        return node.ToJsonString();
    }

    public static string WithValidAttachments(string conf, params (string ContainerId, string IfName)[] attachments) =>
        With(conf, "cni.dev/valid-attachments",
            "[" + string.Join(",", attachments.Select(a => $"{{\"containerID\":\"{a.ContainerId}\",\"ifname\":\"{a.IfName}\"}}")) + "]");
}
