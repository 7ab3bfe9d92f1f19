/** Where the monitoring threads' (the prediction log's writer, the live monitor) compiled scripts are. */
import { compiledScript } from '../util/worker-script';

/** The compiled `name` (e.g. "monitor-worker.js") of src/monitoring, or an error telling to build. */
export function monitoringScript(name: string, what: string): string {
  return compiledScript(__dirname, name, what);
}
