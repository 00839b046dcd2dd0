/** Line icons as inline SVG (no icon font, no emoji: both depend on what the device has installed). */
const paths = {
  wardrobe: 'M9 3.5a3 3 0 0 0 6 0l5 2.5-2 5-2-1V21H8V10l-2 1-2-5z',
  mirror: 'M12 2.5c4 0 6.5 3.4 6.5 8.5S16 21.5 12 21.5 5.5 16.1 5.5 11 8 2.5 12 2.5zM9 8.5l3-3M9.5 12.5l5-5',
  results: 'M12 3l1.8 4.7L18.5 9.5l-4.7 1.8L12 16l-1.8-4.7L5.5 9.5l4.7-1.8zM18 15l.9 2.1 2.1.9-2.1.9L18 21l-.9-2.1L15 18l2.1-.9z',
  ops: 'M3.5 20.5h17M6 17v-5M10.5 17V7M15 17v-7M19.5 17V4',
} as const;

export function Icon(props: { name: keyof typeof paths }) {
  return (
    <svg
      class="icon"
      viewBox="0 0 24 24"
      width="20"
      height="20"
      aria-hidden="true"
      fill="none"
      stroke="currentColor"
      stroke-width="1.7"
      stroke-linecap="round"
      stroke-linejoin="round"
    >
      <path d={paths[props.name]} />
    </svg>
  );
}
