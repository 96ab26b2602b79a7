// Scheduled task: one log line per run, proving the schedule, the function and its log
// group work end to end. Inlined by the compiler as index.js (handler index.handler); a
// metric filter or a Logs Insights query on "heartbeat" then shows any gap in the runs.

exports.handler = async (event) => {
  const line = {
    heartbeat: new Date().toISOString(),
    service: process.env.SERVICE_NAME || "unknown",
    scheduledAt: (event && event.time) || null, // EventBridge's time of the schedule
  };
  console.log(JSON.stringify(line));
  return line;
};
