import { EnterKey } from "./components/Access/EnterKey";
import { ShowHeader } from "./components/Header/ShowHeader";
import { ShowRetryNotice } from "./components/RateLimit/ShowRetryNotice";
import { useApiKey } from "./hooks/useApiKey";
import { useRetryNotice } from "./hooks/useRetryNotice";
import { useTaskForms } from "./hooks/useTaskForms";
import { Monitor } from "./Monitor";

/**
 * The page: the monitor, or the key prompt while the server answers 401. The API's
 * description (for the submit form) needs no key and is read once per page load; the
 * monitor is mounted anew for each key, so one key never sees what another loaded.
 */
export function App() {
  const key = useApiKey();
  const retry = useRetryNotice();
  const taskForms = useTaskForms();

  if (key.need !== null) {
    return (
      <div className="app">
        <ShowHeader connection={null} metrics="none" />
        {retry.notice !== null && (
          <ShowRetryNotice notice={retry.notice} secondsLeft={retry.secondsLeft} onDismiss={retry.dismiss} />
        )}
        <EnterKey need={key.need} onSubmit={key.use} />
      </div>
    );
  }
  return <Monitor key={key.epoch} retry={retry} taskForms={taskForms} keyHeld={key.key !== null} onForgetKey={key.forget} />;
}
