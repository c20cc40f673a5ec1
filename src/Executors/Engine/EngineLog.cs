using Microsoft.Extensions.Logging;

namespace Taquin.Executors.Engine;

internal static partial class EngineLog
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Step {StepId} {StepType} of {Subject}: {From} -> {To} ({Reason})")]
    public static partial void Transition(ILogger logger, long stepId, string stepType, string subject, Journal.StepState from, Journal.StepState to, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Step {StepId} {StepType} of {Subject}: transient error on attempt {Attempt}, retrying in {Backoff}: {Error}")]
    public static partial void TransientError(ILogger logger, long stepId, string stepType, string subject, int attempt, TimeSpan backoff, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "Step {StepId} {StepType} of {Subject} failed: {Error}")]
    public static partial void StepFailed(ILogger logger, long stepId, string stepType, string subject, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "Compensation of step {StepId} {StepType} of {Subject} failed: {Error}")]
    public static partial void CompensationFailed(ILogger logger, long stepId, string stepType, string subject, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Step {StepId} {StepType} of {Subject} found Running after its worker left: {Decision}")]
    public static partial void Resumed(ILogger logger, long stepId, string stepType, string subject, string decision);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Step {StepId} busy: {Resource} is taken")]
    public static partial void Busy(ILogger logger, long stepId, string resource);
}
