using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace Taquin.PveSimulator;

/// <summary>
/// PVE's two ways in (pve-http-server / PVE::AccessControl): a ticket "PVE:user@realm:HEXTIME::SIG" in the
/// PVEAuthCookie plus a CSRFPreventionToken header on writes, or an "Authorization: PVEAPIToken=user!id=secret" header.
/// </summary>
public sealed class SimAuth(PveSimulatorOptions options)
{
    private byte[] key = RandomNumberGenerator.GetBytes(32);

    /// <summary>Invalidates every ticket issued so far (as a key rotation would): the next call with one gets 401.</summary>
    public void RevokeTickets() => key = RandomNumberGenerator.GetBytes(32);

    public int TicketsIssued => ticketsIssued;
    private int ticketsIssued;

    /// <summary>POST /access/ticket: a password, or a still valid ticket (PVE's renewal), yields a new ticket.</summary>
    public (string Ticket, string Csrf)? Login(string username, string password)
    {
        var user = username.Contains('@', StringComparison.Ordinal) ? username : username + "@pam";
        var ok = (user == "root@pam" && options.RootPassword.Length > 0 && FixedTimeEquals(password, options.RootPassword))
            || VerifyTicket(password) == user;
        if (!ok)
        {
            return null;
        }

        Interlocked.Increment(ref ticketsIssued);
        var time = options.Clock.GetUtcNow().ToUnixTimeSeconds().ToString("X8", CultureInfo.InvariantCulture);
        var plain = $"PVE:{user}:{time}";
        return ($"{plain}::{Sign(plain)}", $"{time}:{Sign(time + ":" + user)}");
    }

    /// <summary>The user the request acts as, or null (401). Sets <paramref name="reason"/> for the reason phrase.</summary>
    public string? Authenticate(HttpRequest request, out string reason)
    {
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith("PVEAPIToken", StringComparison.Ordinal))
        {
            // "PVEAPIToken=user@realm!id=secret" or with a space; split at the last '='.
            var value = authorization["PVEAPIToken".Length..].TrimStart('=', ' ');
            var split = value.LastIndexOf('=');
            if (split > 0 && options.ApiTokens.TryGetValue(value[..split], out var secret) && FixedTimeEquals(value[(split + 1)..], secret))
            {
                reason = "";
                return value[..value.IndexOf('!', StringComparison.Ordinal)];
            }

            reason = "authentication failure";
            return null;
        }

        var ticket = request.Cookies["PVEAuthCookie"];
        if (string.IsNullOrEmpty(ticket))
        {
            reason = "No ticket";
            return null;
        }

        var user = VerifyTicket(ticket);
        if (user is null)
        {
            reason = "authentication failure";
            return null;
        }

        if (!HttpMethods.IsGet(request.Method) && !VerifyCsrf(request.Headers["CSRFPreventionToken"].ToString(), user))
        {
            reason = "Permission denied - invalid csrf token";
            return null;
        }

        reason = "";
        return user;
    }

    private string? VerifyTicket(string ticket)
    {
        var parts = ticket.Split("::");
        if (parts.Length != 2 || !FixedTimeEquals(Sign(parts[0]), parts[1]))
        {
            return null;
        }

        var fields = parts[0].Split(':');
        if (fields.Length != 3 || !long.TryParse(fields[2], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var issued))
        {
            return null;
        }

        var age = options.Clock.GetUtcNow() - DateTimeOffset.FromUnixTimeSeconds(issued);
        return age < options.TicketLifetime && age > TimeSpan.FromMinutes(-5) ? fields[1] : null;
    }

    private bool VerifyCsrf(string token, string user)
    {
        var split = token.IndexOf(':', StringComparison.Ordinal);
        return split > 0 && FixedTimeEquals(Sign(token[..split] + ":" + user), token[(split + 1)..]);
    }

    private string Sign(string text) => Convert.ToBase64String(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(text)));

    private static bool FixedTimeEquals(string a, string b) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(a), Encoding.UTF8.GetBytes(b));
}
