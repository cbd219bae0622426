import { useId, useState, type FormEvent } from "react";
import type { KeyNeed } from "../../api/apiKey";

export interface EnterKeyProps {
  /** Why a key is asked for: none was sent, or the last one was not accepted. */
  need: KeyNeed;
  onSubmit: (key: string) => void;
}

/** The prompt shown while the server answers 401: asks for a key and says where it is kept. */
export function EnterKey({ need, onSubmit }: EnterKeyProps) {
  const [text, setText] = useState("");
  const inputId = useId();
  const titleId = useId();
  const submit = (event: FormEvent<HTMLFormElement>): void => {
    event.preventDefault();
    if (text.trim() !== "") onSubmit(text);
  };
  return (
    <section className="panel key-prompt" aria-labelledby={titleId}>
      <header className="panel__header">
        <h2 id={titleId}>This server asks for an API key</h2>
      </header>
      {need === "refused" && (
        <p className="notice notice--error" role="alert" data-testid="key-refused">
          The key was not accepted. Check it and enter it again.
        </p>
      )}
      <form className="form" onSubmit={submit}>
        <div className="field">
          <label htmlFor={inputId}>API key</label>
          <input id={inputId} type="password" autoComplete="off" spellCheck={false} autoFocus value={text}
            onChange={(event) => setText(event.target.value)} />
          <span className="field-hint">
            Sent only in the <code>Authorization</code> header, and kept in this browser tab until it is closed.
          </span>
        </div>
        <div className="form__actions">
          <button type="submit" className="button button--primary" disabled={text.trim() === ""}>Use key</button>
        </div>
      </form>
    </section>
  );
}
