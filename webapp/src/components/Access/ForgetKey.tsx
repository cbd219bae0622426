export interface ForgetKeyProps {
  onForget: () => void;
}

/** Drops the key this browser tab holds; the monitor asks for one again. */
export function ForgetKey({ onForget }: ForgetKeyProps) {
  return (
    <button type="button" className="button button--ghost" onClick={onForget}
      title="Remove the API key from this browser tab">
      Forget key
    </button>
  );
}
