// What changed between two looks at every endpoint (`link show` views by index), as the events
// `mvtap monitor` prints: added, deleted, and for an endpoint in both, in this order, a new
// namespace, name, its interface's name where it lives, mode, MAC, up/down, lower state (gone, back, moved, unreachable), datapath
// state or restart count, and carrier. Endpoints in index order.
using Mvtap.Control;

namespace Mvtap.Daemon.Events;

internal static class LinkChangeDiffer
{
    public static List<LinkEvent> Diff(IReadOnlyDictionary<int, LinkView> before, IReadOnlyDictionary<int, LinkView> after)
    {
        var events = new List<LinkEvent>();
        foreach (int index in before.Keys.Union(after.Keys).Order())
        {
            bool was = before.TryGetValue(index, out var old), @is = after.TryGetValue(index, out var now);
            if (!was) { events.Add(Event(LinkEvent.Added, null, now!)); continue; }
            if (!@is) { events.Add(Event(LinkEvent.Deleted, null, old!)); continue; }
            Changes(old!, now!, events);
        }
        return events;
    }

    private static void Changes(LinkView old, LinkView now, List<LinkEvent> events)
    {
        if (old.Netns != now.Netns) events.Add(Event(LinkEvent.Netns, now.Netns ?? "host", now));
        if (old.Name != now.Name) events.Add(Event(LinkEvent.Name, $"{old.Name} -> {now.Name}", now));
        if (old.Interface != now.Interface && old.Interface is not null && now.Interface is not null)
            events.Add(Event(LinkEvent.Interface, $"{old.Interface} -> {now.Interface}", now));
        if (old.Mode != now.Mode) events.Add(Event(LinkEvent.Mode, now.Mode, now));
        if (old.Mac != now.Mac) events.Add(Event(LinkEvent.Address, now.Mac, now));
        if (old.AdminUp != now.AdminUp) events.Add(Event(now.AdminUp ? LinkEvent.Up : LinkEvent.Down, null, now));
        if (old.LowerState != now.LowerState || old.LowerNetns != now.LowerNetns)
            events.Add(Event(LinkEvent.Lower, Join(LowerWord(old, now), now.LowerNetns is { } n ? $"netns {n}" : null, now.LowerReason), now));
        if (now.DatapathRestarts > old.DatapathRestarts)
            events.Add(Event(LinkEvent.Datapath, Join($"restarted (restarts {now.DatapathRestarts})", null, now.DatapathReason), now));
        else if (old.DatapathState != now.DatapathState && now.DatapathState is not null)
            events.Add(Event(LinkEvent.Datapath, Join(now.DatapathState, null, now.DatapathReason), now));
        if (old.Carrier != now.Carrier) events.Add(Event(now.Carrier ? LinkEvent.Carrier : LinkEvent.NoCarrier, null, now));
    }

    // "back" when a lower that was away is present again, else its new state
    private static string LowerWord(LinkView old, LinkView now) =>
        now.LowerState == "present" && old.LowerState is not null && old.LowerState != "present" ? "back" : now.LowerState ?? "unknown";

    private static string Join(string head, string? middle, string? reason) =>
        string.Join(' ', new[] { head, middle, reason is null ? null : $"({reason})" }.Where(p => p is not null));

    private static LinkEvent Event(string kind, string? detail, LinkView view) => new() { Kind = kind, Detail = detail, Link = view };
}
