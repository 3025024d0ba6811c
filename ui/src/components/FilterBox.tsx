/** The text filter above every table: a search box that never autocorrects. */
import type { Ref } from 'preact';

interface Props {
  id: string;
  placeholder: string;
  label: string;
  value: string;
  onInput(value: string): void;
  inputRef?: Ref<HTMLInputElement>;
}

export function FilterBox({ id, placeholder, label, value, onInput, inputRef }: Props) {
  return (
    <input
      ref={inputRef}
      id={id}
      class="filter"
      type="search"
      placeholder={placeholder}
      aria-label={label}
      autocomplete="off"
      spellcheck={false}
      value={value}
      onInput={(e) => onInput(e.currentTarget.value)}
    />
  );
}
